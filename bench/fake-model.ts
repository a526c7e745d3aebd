/**
 * The fake OpenAI server of the tests as a process of its own (`node bench/fake-model.ts [delayMs]`),
 * so the model's side of every call runs on its own event loop, as the real API's would. It prints
 * `{"url": …}` on one line when it listens and stops on SIGTERM or when stdin closes.
 *
 * Every answer is the same valid analysis (what the offline analyzer says about a short diary), so
 * the worker's validation, storage and slip-check enqueueing all run as they do in production.
 */
import { analyzeOffline } from '../src/analysis/offline/analyzer.ts';
import { type Behaviour, type FakeOpenAI, startFakeOpenAI } from '../test/support/fake-openai.ts';

const SAMPLE =
  '오늘은 오랜만에 친구와 한강을 산책했다. 바람이 시원해서 기분이 좋았다. 회사 일은 여전히 바쁘지만 조금은 숨을 돌린 하루였다.';

export async function startFakeModel(delayMs: number): Promise<FakeOpenAI> {
  const answer: Behaviour = { kind: 'json', content: analyzeOffline(SAMPLE), delayMs };
  return startFakeOpenAI({ record: false, responder: () => answer });
}

if (import.meta.main) {
  const fake = await startFakeModel(Number(process.argv[2] ?? 0));
  process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
  const stop = () => {
    fake.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.stdin.once('end', stop);
  process.stdin.resume();
}
