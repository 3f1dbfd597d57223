import { serve } from "../../knative/serving/serve.ts";
import { createApp } from "./app.ts";

await serve(await createApp(process.env), { handleSignals: true });
