import { describe, expect, it } from "vitest";
import { AddNoteResponse, ListNotesResponse, Note } from "../../../clients/memory/contract/notes.ts";
import { freshInstance, instanceScope, OPERATOR } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

const NOTES: { kind: "notes" } = { kind: "notes" };

describe.each(TARGETS)("notes on $name", (target) => {
  const suite = useTarget(target);

  it("adds, reads, updates and deletes a note with provenance", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const added = AddNoteResponse.parse(
      await client.addNote(instance, {
        id: "tea",
        text: "Alice drinks green tea every morning",
        tags: ["preferences"],
        provenance: { runId: "run-1", source: "message m3" },
      }),
    );
    expect(added).toMatchObject({
      created: true,
      note: {
        id: "tea",
        owner: { kind: "instance" },
        version: 1,
        tags: ["preferences"],
        provenance: { runId: "run-1", source: "message m3", writtenBy: `instance:${instance}` },
      },
    });
    expect(await client.getNote(instance, "tea")).toEqual(added.note);
    // The memory skill's token writes notes of any instance; provenance records who wrote.
    const updated = Note.parse(
      await h
        .client(NOTES)
        .updateNote(instance, "tea", { text: "Alice switched to black tea", provenance: { runId: "run-2" } }),
    );
    expect(updated).toMatchObject({
      version: 2,
      text: "Alice switched to black tea",
      tags: ["preferences"],
      provenance: { runId: "run-2", writtenBy: "notes" },
      createdAt: added.note.createdAt,
    });
    await expect(client.updateNote(instance, "tea", { text: "stale", expectedVersion: 1 })).rejects.toMatchObject({
      status: 412,
      currentVersion: 2,
    });
    expect(await client.deleteNote(instance, "tea")).toBe(true);
    expect(await client.getNote(instance, "tea")).toBeUndefined();
    expect(await client.deleteNote(instance, "tea")).toBe(false);
    await expect(client.updateNote(instance, "tea", { text: "gone" })).rejects.toMatchObject({ status: 404 });
  });

  it("makes a retried add harmless: the same id answers the stored note", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    const first = await client.addNote(instance, { id: "n1", text: "first text" });
    const retry = await client.addNote(instance, { id: "n1", text: "different text" });
    expect(retry).toEqual({ note: first.note, created: false });
    const generated = await client.addNote(instance, { text: "no id given" });
    expect(generated.note.id).toMatch(/^note_/);
  });

  it("ranks keyword matches, searching a user's notes and the instance's, never another user's", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.addNote(instance, { id: "i1", text: "The office coffee machine is on the third floor" });
    await client.addNote(instance, { id: "i2", text: "Deploys happen on Tuesdays after the standup" });
    await client.addNote(instance, {
      id: "u1",
      user: "slack:U1",
      text: "Prefers coffee, black, no sugar. Coffee daily.",
    });
    await client.addNote(instance, { id: "u2", user: "slack:U2", text: "Allergic to coffee" });
    const results = await client.searchNotes(instance, { query: "Coffee?", user: "slack:U1" });
    expect(results.map((r) => r.note.id)).toEqual(["u1", "i1"]);
    expect(results[0]!.score).toBeGreaterThan(results[1]!.score);
    const onlyUser = await client.searchNotes(instance, { query: "coffee", user: "slack:U1", includeInstance: false });
    expect(onlyUser.map((r) => r.note.id)).toEqual(["u1"]);
    const instanceOnly = await client.searchNotes(instance, { query: "coffee floor" });
    expect(instanceOnly.map((r) => r.note.id)).toEqual(["i1"]);
    expect(await client.searchNotes(instance, { query: "the and of" })).toEqual([]);
    expect(await client.searchNotes(instance, { query: "kubernetes" })).toEqual([]);
    const limited = await client.searchNotes(instance, { query: "coffee", user: "slack:U1", limit: 1 });
    expect(limited.map((r) => r.note.id)).toEqual(["u1"]);
    // Accents and case fold; tags are searchable.
    await client.addNote(instance, { id: "i3", text: "Café opens at nine", tags: ["schedule"] });
    expect((await client.searchNotes(instance, { query: "CAFE" })).map((r) => r.note.id)).toEqual(["i3"]);
    expect((await client.searchNotes(instance, { query: "schedule" })).map((r) => r.note.id)).toEqual(["i3"]);
  });

  it("re-indexes on update and forgets deleted notes", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    await client.addNote(instance, { id: "n", text: "likes jazz music" });
    await client.updateNote(instance, "n", { text: "likes classical music" });
    expect(await client.searchNotes(instance, { query: "jazz" })).toEqual([]);
    expect((await client.searchNotes(instance, { query: "classical" })).map((r) => r.note.id)).toEqual(["n"]);
    await client.updateNote(instance, "n", { tags: ["opera"] });
    expect((await client.searchNotes(instance, { query: "opera" })).map((r) => r.note.id)).toEqual(["n"]);
    await client.deleteNote(instance, "n");
    expect(await client.searchNotes(instance, { query: "classical music opera" })).toEqual([]);
  });

  it("lists notes per owner, newest first, with cursor pagination", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    for (const id of ["a", "b", "c", "d"]) {
      clock.advance(3);
      await client.addNote(instance, { id, text: `note ${id}` });
    }
    await client.addNote(instance, { id: "mine", user: "person-1", text: "a user's note" });
    const first = ListNotesResponse.parse(await client.listNotes(instance, { limit: 3 }));
    expect(first.notes.map((n) => n.id)).toEqual(["d", "c", "b"]);
    const second = await client.listNotes(instance, { limit: 3, cursor: first.nextCursor! });
    expect(second).toMatchObject({ notes: [{ id: "a" }], nextCursor: null });
    expect((await client.listNotes(instance, { user: "person-1" })).notes.map((n) => n.id)).toEqual(["mine"]);
  });

  it("caps the number of notes per owner and the size of a note", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(instanceScope(instance));
    for (let i = 0; i < 5; i++) await client.addNote(instance, { id: `n${i}`, text: `fact ${i}` });
    await expect(client.addNote(instance, { id: "n5", text: "one too many" })).rejects.toMatchObject({
      status: 409,
      code: "cap_exceeded",
    });
    // Another owner has its own allowance; deleting makes room.
    expect((await client.addNote(instance, { id: "u", user: "p1", text: "user fact" })).created).toBe(true);
    await client.deleteNote(instance, "n0");
    expect((await client.addNote(instance, { id: "n5", text: "fits now" })).created).toBe(true);
    const tooLong = await h.raw(`/v1/instances/${instance}/notes`, {
      method: "POST",
      scope: instanceScope(instance),
      json: { text: "x".repeat(8001) },
    });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { issues: Array<{ path: string }> } }).error.issues[0]!.path).toBe(
      "text",
    );
  });

  it("opens notes to the notes scope and the instance, not to channel or gateway tokens", async () => {
    const { h } = suite();
    const instance = freshInstance();
    await h.client(NOTES).addNote(instance, { id: "x", text: "written by the memory skill" });
    expect((await h.client(OPERATOR).getNote(instance, "x"))?.text).toBe("written by the memory skill");
    await expect(h.client({ kind: "channel" }).getNote(instance, "x")).rejects.toMatchObject({ status: 403 });
    await expect(h.client({ kind: "gateway" }).listNotes(instance)).rejects.toMatchObject({ status: 403 });
    await expect(h.client(instanceScope("other")).getNote(instance, "x")).rejects.toMatchObject({ status: 403 });
    // The notes scope opens notes only.
    await expect(h.client(NOTES).readSession(instance, "main")).rejects.toMatchObject({ status: 403 });
  });
});
