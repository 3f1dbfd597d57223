import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockedAddressReason } from "../../skills/http/address-policy.ts";
import { parseAllowList } from "../../skills/http/allow-list.ts";
import { guardedConnection, type Resolver } from "../../skills/http/guarded-connect.ts";
import { createHttpHandlers, type HttpSkillOptions } from "../../skills/http/handlers.ts";
import { ToolFailure } from "../../skills/runtime/tool-error.ts";
import { toolContext } from "./support/context.ts";
import { type HttpTarget, startHttpTarget } from "./support/http-target.ts";

/**
 * The SSRF suite: every blocked form is refused with PermissionDenied, and nothing reaches the loopback server that
 * stands in for "something internal". The loopback server is reachable only through an explicit, port-specific test
 * allowance passed in code; the refusal tests run without it or on other ports.
 */
let target: HttpTarget;
let resolverCalls: string[] = [];

const dnsTable: Record<string, string[]> = {
  "api.test": ["127.0.0.1"],
  "rebind.test": ["127.0.0.1"],
  "mixed.test": ["93.184.216.34", "127.0.0.1"],
  "mapped-metadata.test": ["::ffff:169.254.169.254"],
  "private.test": ["10.0.0.5"],
  "v6-loopback.test": ["::1"],
  "public.test": ["93.184.216.34"],
};

const resolver: Resolver = async (hostname) => {
  resolverCalls.push(hostname);
  const answers = dnsTable[hostname];
  if (!answers) throw Object.assign(new Error(`no such host ${hostname}`), { code: "ENOTFOUND" });
  return answers.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};

function handlers(allow: string[], options: Partial<HttpSkillOptions> = {}) {
  return createHttpHandlers({
    allowList: parseAllowList(allow),
    resolver,
    timeoutMs: 5_000,
    maxResponseBytes: 64 * 1024,
    maxRedirects: 5,
    maxTextBytes: 64 * 1024,
    ...options,
  });
}

async function refusal(promise: Promise<unknown>): Promise<ToolFailure> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, "expected the call to be refused").toBeInstanceOf(ToolFailure);
  return error as ToolFailure;
}

beforeAll(async () => {
  target = await startHttpTarget({
    "/ok": (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("internal secret"),
    "/redirect": (req, res) => {
      const to = new URL(req.url ?? "/", "http://x").searchParams.get("to") ?? "/ok";
      res.writeHead(302, { location: to }).end();
    },
  });
});

afterAll(async () => {
  await target.close();
});

describe("the address policy", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.255", "cgnat"],
    ["169.254.0.1", "link-local"],
    ["169.254.169.254", "cloud-metadata"],
    ["100.100.100.200", "cloud-metadata"],
    ["168.63.129.16", "cloud-metadata"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["fd00:ec2::254", "cloud-metadata"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["0:0:0:0:0:ffff:a9fe:a9fe", "cloud-metadata"],
    ["::127.0.0.1", "loopback"],
    ["::ffff:0:a00:1", "private"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b:1::a9fe:a9fe", "cloud-metadata"],
    ["2002:7f00:1::", "loopback"],
    ["2002:a9fe:a9fe::1", "cloud-metadata"],
    ["2001:0:4136:e378::1", "reserved"],
    ["not-an-address", "not-an-ip"],
  ])("blocks %s (%s)", (address, reason) => {
    expect(blockedAddressReason(address)).toBe(reason);
  });

  it.each([
    "93.184.216.34",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
  ])("allows public %s", (address) => {
    expect(blockedAddressReason(address)).toBeUndefined();
  });
});

describe("SSRF refusals", () => {
  const literalForms = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://127.000.000.001/",
    "http://127.0.0.1./",
    "http://１２７.０.０.１/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://168.63.129.16/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
  ];

  it.each(literalForms)("refuses %s with PermissionDenied even when every host is allowed", async (url) => {
    resolverCalls = [];
    const error = await refusal(handlers(["*"]).get({ url }, toolContext()));
    expect(error.errorClass).toBe("PermissionDenied");
    // Literals are judged as addresses; nothing is looked up.
    expect(resolverCalls).toEqual([]);
  });

  it.each([
    "http://localhost/",
    "http://LOCALHOST./",
    "http://app.localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://kubernetes.default.svc/",
    "http://memory.knclaw.svc.cluster.local/",
    "http://printer.local/",
    "http://metadata/",
    "http://memory/",
  ])("refuses the internal name %s", async (url) => {
    const error = await refusal(handlers(["*"]).get({ url }, toolContext()));
    expect(error.errorClass).toBe("PermissionDenied");
  });

  it("refuses a public-looking name that resolves to 127.0.0.1, before connecting", async () => {
    const before = target.seen.length;
    const error = await refusal(
      handlers([`rebind.test:${target.port}`]).get({ url: `http://rebind.test:${target.port}/ok` }, toolContext()),
    );
    expect(error.errorClass).toBe("PermissionDenied");
    expect(error.message).toMatch(/loopback/);
    expect(target.seen.length).toBe(before);
  });

  it.each(["mixed.test", "mapped-metadata.test", "private.test", "v6-loopback.test"])(
    "refuses %s whose DNS answer contains a blocked address",
    async (host) => {
      const error = await refusal(handlers(["*"]).get({ url: `http://${host}/` }, toolContext()));
      expect(error.errorClass).toBe("PermissionDenied");
    },
  );

  it("refuses a redirect to 169.254.169.254 from an allowed server, and never contacts it", async () => {
    const allowed = handlers([`127.0.0.1:${target.port}`], {
      unsafeTestAllowance: [{ address: "127.0.0.1", port: target.port }],
    });
    const error = await refusal(
      allowed.get(
        { url: `${target.origin}/redirect?to=${encodeURIComponent("http://169.254.169.254/latest/meta-data/")}` },
        toolContext(),
      ),
    );
    expect(error.errorClass).toBe("PermissionDenied");
    expect(target.seen.at(-1)?.url).toMatch(/^\/redirect/);
  });

  it.each([
    ["a name resolving into a private range", "http://private.test/"],
    ["another loopback port", "http://127.0.0.1:1/"],
    ["a host that is not on the allow-list", "https://not-allowed.test/"],
    ["the IPv6 metadata address", "http://[fd00:ec2::254]/"],
    ["a non-http scheme", "file:///etc/passwd"],
  ])("refuses a redirect to %s", async (_what, to) => {
    const allowed = handlers([`127.0.0.1:${target.port}`, "private.test", "example.org"], {
      unsafeTestAllowance: [{ address: "127.0.0.1", port: target.port }],
    });
    const before = target.seen.length;
    const error = await refusal(
      allowed.get({ url: `${target.origin}/redirect?to=${encodeURIComponent(to)}` }, toolContext()),
    );
    expect(error.errorClass).toBe("PermissionDenied");
    expect(target.seen.length).toBe(before + 1);
  });

  it.each([
    "file:///etc/passwd",
    "ftp://example.org/",
    "gopher://example.org/",
    "data:text/plain,hi",
    "javascript:alert(1)",
  ])("refuses the scheme of %s", async (url) => {
    const error = await refusal(handlers(["*"]).get({ url }, toolContext()));
    expect(error.errorClass).toBe("PermissionDenied");
  });

  it("refuses credentials in the URL and hosts or ports off the allow-list", async () => {
    for (const url of [
      "http://user:pass@public.test/",
      "http://public.test:8080/",
      "http://other.test/",
      "http://sub.public.test/",
    ]) {
      const error = await refusal(handlers(["public.test"]).get({ url }, toolContext()));
      expect(error.errorClass, url).toBe("PermissionDenied");
    }
  });

  it("keeps the test allowance specific to one address and port", async () => {
    const allowed = handlers([`127.0.0.1:${target.port}`, `api.test:${target.port}`], {
      unsafeTestAllowance: [{ address: "127.0.0.1", port: target.port + 1 === 65536 ? 1 : target.port + 1 }],
    });
    const before = target.seen.length;
    expect((await refusal(allowed.get({ url: `${target.origin}/ok` }, toolContext()))).errorClass).toBe(
      "PermissionDenied",
    );
    expect((await refusal(allowed.get({ url: `http://api.test:${target.port}/ok` }, toolContext()))).errorClass).toBe(
      "PermissionDenied",
    );
    expect(target.seen.length).toBe(before);
  });

  it("checks the address actually connected to, and writes nothing when it is blocked", async () => {
    // Bypass every pre-connect check (a literal the URL guard would have refused) to exercise the last line of defence.
    const before = target.seen.length;
    const connect = guardedConnection(
      {
        url: new URL(`${target.origin}/ok`),
        scheme: "http:",
        host: "127.0.0.1",
        port: target.port,
        literal: "127.0.0.1",
      },
      { resolver, allowance: [] },
    );
    const outcome = await new Promise<Error | null>((resolve) => connect({}, (error) => resolve(error)));
    expect(outcome).toBeInstanceOf(ToolFailure);
    expect((outcome as ToolFailure).errorClass).toBe("PermissionDenied");
    expect(target.seen.length).toBe(before);
    const allowed = guardedConnection(
      {
        url: new URL(`${target.origin}/ok`),
        scheme: "http:",
        host: "127.0.0.1",
        port: target.port,
        literal: "127.0.0.1",
      },
      { resolver, allowance: [{ address: "127.0.0.1", port: target.port }] },
    );
    const socket = await new Promise<Socket | undefined>((resolve) => allowed({}, (_e, s) => resolve(s)));
    expect(socket?.remoteAddress).toBe("127.0.0.1");
    socket?.destroy();
  });
});
