import type { MemoryClient } from "../../clients/memory/client.ts";
import type {
  DeadLetter,
  DeadLetterSummary,
  ListDeadLettersQuery,
  ListDeadLettersResponse,
  StoreDeadLetterRequest,
  StoreDeadLetterResponse,
} from "../../clients/memory/contract/dead-letters.ts";

/** The function's one queue in the memory service (the `deadletter` token opens dead-letter queues only). */
export interface DeadLetterStore {
  storeDeadLetter(request: StoreDeadLetterRequest): Promise<StoreDeadLetterResponse>;
  listDeadLetters(query: ListDeadLettersQuery): Promise<ListDeadLettersResponse>;
  getDeadLetter(id: string): Promise<DeadLetter | undefined>;
  recordDeadLetterReplay(id: string): Promise<DeadLetterSummary | undefined>;
  deleteDeadLetter(id: string): Promise<boolean>;
  /** Whether the memory service and its store answer (readiness). */
  ready(): Promise<boolean>;
}

export function memoryStore(client: MemoryClient, queue: string): DeadLetterStore {
  return {
    storeDeadLetter: (request) => client.storeDeadLetter(queue, request),
    listDeadLetters: (query) => client.listDeadLetters(queue, query),
    getDeadLetter: (id) => client.getDeadLetter(queue, id),
    recordDeadLetterReplay: (id) => client.recordDeadLetterReplay(queue, id),
    deleteDeadLetter: (id) => client.deleteDeadLetter(queue, id),
    ready: () => client.ready(),
  };
}
