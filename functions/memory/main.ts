import { serve } from "../../runtime/serve.ts";
import { createApp } from "./app.ts";

serve(await createApp(process.env), { handleSignals: true });
