/** A request that cannot be accepted as a CloudEvent; `status` is the HTTP status Knative's ingress answers with. */
export class CloudEventError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "CloudEventError";
    this.status = status;
  }
}

export const badRequest = (message: string) => new CloudEventError(400, message);
