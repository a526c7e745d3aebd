/**
 * The vetted words of the offline analyzer's output: feelings, flow phases and step notes, and the
 * question and interpretation pools chosen by the dominant emotion. Data, not logic.
 */
import type { Emotion } from '../schema.ts';
import type { Lang } from './text.ts';

const KO_HEART: Readonly<Record<Emotion, string>> = {
  joy: '기쁜 마음',
  gratitude: '고마운 마음',
  calm: '편안한 마음',
  pride: '뿌듯한 마음',
  excitement: '설레는 마음',
  love: '아끼는 마음',
  hope: '기대하는 마음',
  neutral: '담담한 마음',
  sadness: '슬픈 마음',
  anxiety: '불안한 마음',
  anger: '화난 마음',
  fear: '두려운 마음',
  loneliness: '외로운 마음',
  exhaustion: '지친 마음',
  shame: '스스로를 탓하는 마음',
  despair: '무겁게 가라앉은 마음',
};
export const KO_NOUN: Readonly<Record<Emotion, string>> = {
  joy: '기쁨이',
  gratitude: '고마움이',
  calm: '편안함이',
  pride: '뿌듯함이',
  excitement: '설렘이',
  love: '애정이',
  hope: '기대가',
  neutral: '담담함이',
  sadness: '슬픔이',
  anxiety: '불안이',
  anger: '화가',
  fear: '두려움이',
  loneliness: '외로움이',
  exhaustion: '지친 마음이',
  shame: '자책이',
  despair: '무거운 마음이',
};
export const EN_NOUN: Readonly<Record<Emotion, string>> = {
  joy: 'joy',
  gratitude: 'gratitude',
  calm: 'calm',
  pride: 'pride',
  excitement: 'excitement',
  love: 'affection',
  hope: 'hope',
  neutral: 'a matter-of-fact mood',
  sadness: 'sadness',
  anxiety: 'worry',
  anger: 'anger',
  fear: 'fear',
  loneliness: 'loneliness',
  exhaustion: 'tiredness',
  shame: 'self-blame',
  despair: 'heaviness',
};

export const PHASES: Readonly<Record<Lang, readonly (readonly string[])[]>> = {
  ko: [
    ['하루 전체'],
    ['처음', '마지막'],
    ['처음', '중간', '마지막'],
    ['처음', '초반', '후반', '마지막'],
    ['처음', '초반', '중간', '후반', '마지막'],
    ['처음', '초반', '중간', '중간 이후', '후반', '마지막'],
    ['처음', '초반', '초중반', '중간', '중후반', '후반', '마지막'],
    ['처음', '초반', '초중반', '중간', '중간 이후', '중후반', '후반', '마지막'],
  ],
  en: [
    ['the whole day'],
    ['beginning', 'end'],
    ['beginning', 'middle', 'end'],
    ['beginning', 'early', 'late', 'end'],
    ['beginning', 'early', 'middle', 'late', 'end'],
    ['beginning', 'early', 'middle', 'past the middle', 'late', 'end'],
    ['beginning', 'early', 'early middle', 'middle', 'late middle', 'late', 'end'],
    ['beginning', 'early', 'early middle', 'middle', 'past the middle', 'late middle', 'late', 'end'],
  ],
};

export function stepNote(
  lang: Lang,
  emotion: Emotion,
  intensity: number,
  topic: string | null,
  focus: boolean,
): string {
  if (lang === 'ko') {
    if (emotion === 'neutral')
      return topic ? `'${topic}' 이야기를 담담하게 적었어요.` : '담담하게 흘러간 부분이에요.';
    const band = intensity < 0.35 ? '살짝' : intensity < 0.7 ? '또렷하게' : '아주 강하게';
    const heart = focus ? '깊이 몰입한 마음' : KO_HEART[emotion];
    return `${topic ? `'${topic}' 이야기에서 ` : ''}${heart}이 ${band} 드러나요.`;
  }
  if (emotion === 'neutral')
    return topic ? `A matter-of-fact moment about "${topic}".` : 'A matter-of-fact moment.';
  const band = intensity < 0.35 ? 'faintly' : intensity < 0.7 ? 'clearly' : 'very strongly';
  const noun = focus ? 'deep focus' : EN_NOUN[emotion];
  return `${noun.charAt(0).toUpperCase()}${noun.slice(1)} comes through ${band}${topic ? ` around "${topic}"` : ''}.`;
}

export type PoolKey = Emotion | 'focus' | 'self_harm';

export const QUESTIONS: Readonly<Record<Lang, Readonly<Record<PoolKey, readonly string[]>>>> = {
  ko: {
    pride: [
      '오늘 가장 뿌듯했던 순간은 무엇이었나요?',
      '이 성취를 위해 가장 애썼던 부분은 무엇이었나요?',
      '오늘의 나에게 어떤 칭찬을 해 주고 싶나요?',
    ],
    joy: [
      '오늘 가장 크게 웃었던 순간은 언제였나요?',
      '이 기쁨을 누구와 나누고 싶나요?',
      '오늘의 즐거움을 내일도 이어 가려면 무엇을 해 볼 수 있을까요?',
    ],
    excitement: ['지금 가장 기대되는 일은 무엇인가요?', '이 설렘을 어떻게 간직하고 싶나요?'],
    gratitude: [
      '오늘 고마운 마음을 전하고 싶은 사람은 누구인가요?',
      '오늘 감사했던 작은 순간 하나를 꼽는다면 무엇인가요?',
    ],
    calm: ['오늘 마음이 가장 편안했던 순간은 언제였나요?', '이런 잔잔한 하루를 만들어 준 것은 무엇이었나요?'],
    focus: [
      '시간 가는 줄 모르고 몰입했던 그 순간에는 어떤 기분이었나요?',
      '무엇이 그렇게 깊이 집중하게 해 주었나요?',
    ],
    love: [
      '오늘 그 사람에게 가장 전하고 싶은 말은 무엇인가요?',
      '소중한 사람과 보낸 시간 중 가장 기억에 남는 장면은 무엇인가요?',
    ],
    hope: [
      '내일의 나에게 어떤 말을 건네고 싶나요?',
      '지금 바라는 변화를 위해 작게 시작할 수 있는 일은 무엇일까요?',
    ],
    neutral: [
      '오늘 하루 중 다시 떠올리고 싶은 작은 장면이 있나요?',
      '평범한 오늘 속에서 나를 미소 짓게 한 것은 무엇이었나요?',
      '오늘 하루를 한 단어로 표현한다면 무엇일까요?',
    ],
    sadness: [
      '지금 내 마음에 가장 필요한 위로는 무엇일까요?',
      '오늘 속상했던 마음을 누구에게 이야기해 보고 싶나요?',
      '이 슬픔이 나에게 알려 주는 것은 무엇일까요?',
    ],
    anxiety: [
      '지금 가장 걱정되는 일 중에서 내가 할 수 있는 작은 일은 무엇일까요?',
      '불안한 마음이 들 때 나를 진정시켜 주는 것은 무엇인가요?',
      '걱정하는 일이 잘 풀린다면 어떤 모습일까요?',
    ],
    fear: [
      '두려운 마음이 들 때 곁에 있어 주었으면 하는 사람은 누구인가요?',
      '이 두려움을 조금 줄이기 위해 할 수 있는 일은 무엇일까요?',
    ],
    anger: [
      '오늘 화가 났던 순간, 내 마음이 정말로 바랐던 것은 무엇이었을까요?',
      '이 감정을 건강하게 풀어 낼 수 있는 방법은 무엇일까요?',
    ],
    loneliness: [
      '오늘 연락해 보고 싶은 사람이 떠오르나요?',
      '혼자라고 느껴질 때 나를 위로해 주는 것은 무엇인가요?',
    ],
    exhaustion: [
      '오늘 나를 가장 지치게 한 것은 무엇이었나요?',
      '지금 나에게 가장 필요한 쉼은 어떤 모습인가요?',
      '내일 하루 중 나를 위해 비워 둘 수 있는 시간이 있을까요?',
    ],
    shame: [
      '친한 친구가 같은 일을 겪었다면 어떤 말을 해 주고 싶나요?',
      '오늘의 나를 조금 너그럽게 바라본다면 어떤 점이 보이나요?',
    ],
    despair: [
      '오늘 하루 중 아주 잠깐이라도 숨을 돌릴 수 있었던 순간이 있었나요?',
      '지금 이 마음을 나눌 수 있는 사람이 떠오르나요?',
    ],
    self_harm: ['지금 이 마음을 조금이라도 함께 나눌 수 있는 사람이 떠오르나요?'],
  },
  en: {
    pride: ['What was the proudest moment of your day?', 'What did it take to get here?'],
    joy: ['When did you laugh the most today?', 'Who would you like to share this joy with?'],
    excitement: ['What are you looking forward to most right now?'],
    gratitude: ['Who would you like to thank today?', 'What small moment are you grateful for today?'],
    calm: ['When did you feel most at ease today?', 'What made today feel so steady?'],
    focus: ['How did it feel to be so absorbed in what you were doing?'],
    love: ['What would you most like to tell that person today?'],
    hope: ['What would you like to say to yourself tomorrow?'],
    neutral: [
      'Is there a small moment from today you would like to remember?',
      'If today were one word, what would it be?',
    ],
    sadness: [
      'What kind of comfort do you need most right now?',
      'Who could you talk to about what hurt today?',
    ],
    anxiety: [
      'Of everything you are worried about, what is one small thing you can do?',
      'What usually helps you feel calmer?',
    ],
    fear: ['Who would you like beside you when you feel afraid?'],
    anger: [
      'What did you really need in the moment you got angry?',
      'How could you let this feeling out in a way that is kind to you?',
    ],
    loneliness: ['Is there someone you would like to reach out to?'],
    exhaustion: ['What drained you most today?', 'What kind of rest do you need right now?'],
    shame: ['What would you say to a friend who went through the same thing?'],
    despair: ['Was there even a brief moment today when you could breathe a little easier?'],
    self_harm: ['Is there someone you could let in on how you are feeling right now?'],
  },
};

export const INTERPRETATIONS: Readonly<Record<Lang, Readonly<Record<PoolKey, readonly string[]>>>> = {
  ko: {
    pride: [
      '오늘은 스스로 해낸 일이 분명하게 빛나는 하루였어요. 그 성취는 우연이 아니라 쌓아 온 시간의 결과예요.',
      '노력한 만큼 결과가 따라온 하루였네요. 이 뿌듯함을 충분히 누려도 괜찮아요.',
      '오늘의 기록에서 나를 향한 자부심이 느껴져요. 이런 순간을 기억해 두면 힘든 날에 든든한 버팀목이 될 거예요.',
    ],
    joy: [
      '기쁜 순간이 하루를 환하게 채운 것 같아요. 무엇이 이런 기분을 만들었는지 기억해 두면 좋겠어요.',
      '오늘은 웃을 일이 많았던 하루였네요. 작은 기쁨을 알아차리는 것도 소중한 힘이에요.',
      '즐거운 마음이 글 곳곳에서 느껴져요. 이런 날이 있다는 걸 잊지 않으면 좋겠어요.',
    ],
    excitement: [
      '설렘이 가득한 하루였네요. 기대하는 마음이 앞으로의 날들에 좋은 힘이 되어 줄 거예요.',
      '무언가를 기다리는 두근거림이 느껴져요. 그 마음을 천천히 즐겨 보세요.',
    ],
    gratitude: [
      '고마운 마음이 오늘의 중심에 있었던 것 같아요. 주변을 따뜻하게 바라보는 시선이 느껴져요.',
      '감사함을 알아차린 하루였네요. 그런 마음은 나 자신에게도 좋은 위로가 돼요.',
    ],
    calm: [
      '큰 물결 없이 잔잔하게 흘러간 하루였네요. 이렇게 편안한 날도 마음에는 좋은 쉼이 돼요.',
      '오늘은 차분하게 나를 돌본 하루 같아요. 조용한 시간도 충분히 의미 있어요.',
    ],
    focus: [
      '무언가에 깊이 몰입한 하루였네요. 시간을 잊을 만큼 집중한 경험은 그 자체로 큰 에너지가 돼요.',
      '오늘은 온전히 한 가지에 마음을 쏟은 하루 같아요. 그렇게 몰입할 수 있었던 나를 칭찬해 주세요.',
    ],
    love: [
      '소중한 사람과의 시간이 하루를 따뜻하게 만든 것 같아요. 그 마음을 표현해 보는 것도 좋겠어요.',
      '누군가를 아끼는 마음이 잘 느껴지는 기록이에요. 그런 관계가 곁에 있다는 건 큰 힘이에요.',
    ],
    hope: [
      '앞으로를 바라보는 마음이 느껴지는 하루였어요. 작은 다짐도 충분히 소중해요.',
      '조금씩 나아지고 있다는 믿음이 글에 담겨 있어요. 그 마음을 천천히 이어 가 보세요.',
    ],
    neutral: [
      '특별한 일 없이 지나간 하루도 나의 소중한 일상이에요. 담담하게 하루를 기록한 것 자체가 좋은 습관이에요.',
      '평범한 하루였네요. 이런 날들이 쌓여 나만의 리듬이 만들어져요.',
      '오늘은 조용히 흘러간 하루 같아요. 작은 장면 하나라도 떠올려 보면 새로운 의미가 보일지도 몰라요.',
    ],
    sadness: [
      '오늘은 마음이 조금 가라앉은 하루였던 것 같아요. 슬픈 마음도 충분히 느껴도 괜찮아요.',
      '속상한 일이 마음에 오래 남았네요. 그 감정을 글로 적어 본 것만으로도 한 걸음이에요.',
      '마음이 무거웠던 하루였네요. 오늘은 스스로에게 조금 더 다정해져도 좋겠어요.',
    ],
    anxiety: [
      '걱정과 긴장이 하루를 채운 것 같아요. 불안은 그만큼 소중하게 여기는 일이 있다는 뜻이기도 해요.',
      '생각이 많아 마음이 바빴던 하루였네요. 지금 할 수 있는 작은 일 하나에 집중해 보는 것도 도움이 될 수 있어요.',
    ],
    fear: [
      '두려운 마음이 컸던 하루였네요. 그런 마음을 알아차리고 적어 본 것만으로도 용기 있는 일이에요.',
      '겁이 나는 순간이 있었던 것 같아요. 혼자 감당하기 어렵다면 가까운 사람에게 기대어도 괜찮아요.',
    ],
    anger: [
      '화가 날 만한 일이 있었던 것 같아요. 그 감정은 나에게 중요한 무언가가 지켜지지 않았다는 신호일 수 있어요.',
      '억울하고 답답한 마음이 느껴져요. 감정을 글로 꺼내 놓은 것이 마음을 정리하는 데 도움이 됐기를 바라요.',
    ],
    loneliness: [
      '외로움이 깊게 느껴진 하루였네요. 그 마음을 알아차리고 적어 준 것이 반가워요.',
      '혼자라는 느낌이 마음에 남았던 것 같아요. 아주 작은 연결이라도 떠올려 보면 좋겠어요.',
    ],
    exhaustion: [
      '몸도 마음도 많이 지친 하루였네요. 오늘은 쉬는 것도 해야 할 일 중 하나예요.',
      '하루를 버텨 낸 것만으로도 충분히 애썼어요. 푹 쉬면서 나를 돌봐 주세요.',
    ],
    shame: [
      '스스로를 탓하는 마음이 느껴져요. 실수 하나가 나라는 사람 전체를 말해 주지는 않아요.',
      '부끄러운 마음이 들었던 하루였네요. 그 마음을 솔직하게 적은 것 자체가 성장의 일부예요.',
    ],
    despair: [
      '많이 버거운 하루였던 것 같아요. 이런 무게를 혼자 다 짊어지지 않아도 괜찮아요.',
      '마음이 깊이 가라앉은 하루였네요. 믿을 수 있는 사람에게 지금의 마음을 조금이라도 나눠 보면 좋겠어요.',
    ],
    self_harm: [
      '오늘은 마음이 정말 많이 무겁고 지쳐 있었던 것 같아요. 그 마음을 글로 꺼내 놓은 것만으로도 쉽지 않은 일이었을 거예요. 혼자 견디지 않아도 괜찮아요. 이야기를 나눌 사람이 필요하면 언제든 109(24시간)에 전화할 수 있어요.',
    ],
  },
  en: {
    pride: [
      'Today you did something that clearly matters to you. That result comes from the time you put in.',
      'Your effort paid off today. It is okay to enjoy this feeling fully.',
    ],
    joy: [
      'Moments of joy seem to have filled your day. It may help to remember what made it feel this way.',
      'A day with plenty to smile about. Noticing small joys is a strength of its own.',
    ],
    excitement: [
      'There is a lot of anticipation in today. That excitement can carry you into the days ahead.',
    ],
    gratitude: [
      'Gratitude sits at the centre of today. You are looking at the people around you with warmth.',
    ],
    calm: [
      'A quiet, steady day. Days like this give your mind a good rest.',
      'It sounds like you looked after yourself calmly today. Quiet time counts too.',
    ],
    focus: ['You were deeply absorbed in something today. That kind of focus is a real source of energy.'],
    love: ['Time with someone you care about warmed your day. It might be nice to tell them so.'],
    hope: ['There is a forward-looking feeling here. Small resolutions matter.'],
    neutral: [
      'An ordinary day is still part of your life worth keeping. Writing it down is a good habit in itself.',
      'A fairly plain day. Days like this build your own rhythm.',
    ],
    sadness: [
      'Your heart seems a little heavy today. It is okay to let yourself feel sad.',
      'Something stayed with you today. Writing it down is already a step.',
    ],
    anxiety: [
      'Worry and tension filled much of today. Anxiety often means something matters to you.',
      'Your mind was busy today. Focusing on one small thing you can do may help.',
    ],
    fear: ['Fear was strong today. Noticing it and writing it down takes courage.'],
    anger: [
      'Something today made you angry. That feeling can be a sign that something important to you was not respected.',
      'There is frustration here. I hope putting it into words helped you sort through it.',
    ],
    loneliness: ['Loneliness came through today. Thank you for noticing it and writing it down.'],
    exhaustion: [
      'You sound worn out, body and mind. Resting is one of the things you need to do today.',
      'Getting through today was effort enough. Please take good care of yourself tonight.',
    ],
    shame: ['You seem hard on yourself today. One mistake does not define who you are.'],
    despair: ['Today sounds very heavy. You do not have to carry all of it alone.'],
    self_harm: [
      "It sounds like today weighed on you very heavily. Putting it into words is not easy. You don't have to carry this alone: in Korea you can call 109 at any hour to talk with someone.",
    ],
  },
};

export const ARC: Readonly<Record<Lang, { up: string; down: string }>> = {
  ko: {
    up: '하루의 끝으로 갈수록 마음이 조금씩 풀려 간 흐름도 보여요.',
    down: '좋게 시작한 하루가 뒤로 갈수록 무거워진 것 같아요.',
  },
  en: {
    up: 'The day seems to have eased as it went on.',
    down: 'The day started well and grew heavier as it went on.',
  },
};

/** FNV-1a over the text: a stable choice among pool entries, so the same entry gets the same words. */
