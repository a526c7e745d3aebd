/**
 * Deterministic synthetic diary texts for `sumda seed`.
 *
 * An entry is composed from template pools (openings, topic events, mood feelings, closings) whose
 * `{slot}` markers are filled from word pools; `{slot|을}` appends the Korean particle that fits the
 * filled word (을/를, 이/가, 은/는, 과/와, 으로/로, 이랑/랑). Templates are compiled once at module
 * load, so one entry costs a few microseconds: 900,000 entries must take seconds, not minutes.
 *
 * Glossary:
 * - mood (MoodKind): what the synthetic writer felt; `high_*` are intense days, `self_harm` is a rare
 *   passive wish not to exist ("사라지고 싶다"). Self-harm texts never mention methods.
 * - topic: what the day was about (회사, 학교, 가족, …); it scopes the slot pools so a work entry talks
 *   about 회의 and 팀장님, a parenting entry about 아이 and 어린이집.
 * Every random choice goes through the seeded Rng, so a given `--seed` always yields the same data.
 */

export const MOODS = [
  'calm',
  'positive',
  'high_positive',
  'negative',
  'high_negative',
  'anxious',
  'self_harm',
] as const;
export type MoodKind = (typeof MOODS)[number];

/** How often each mood is drawn when the caller does not fix one (sums to 1). */
export const MOOD_DISTRIBUTION: Readonly<Record<MoodKind, number>> = Object.freeze({
  calm: 0.3,
  positive: 0.3,
  high_positive: 0.035,
  negative: 0.25,
  high_negative: 0.032,
  anxious: 0.08,
  self_harm: 0.003,
});

/** Share of entries written in Korean when the caller does not fix a language. */
export const KOREAN_SHARE = 0.95;
/** Share of entries that carry a title. */
export const TITLE_SHARE = 0.6;

export type DiaryLanguage = 'ko' | 'en';

export interface DiaryContext {
  /** 0-based day of the user's history; only used for "N일째" style mentions. */
  dayIndex: number;
  mood?: MoodKind;
  lang?: DiaryLanguage;
}

export interface GeneratedDiary {
  title: string | null;
  body: string;
  mood: MoodKind;
}

// ---------------------------------------------------------------------------------------------
// Seeded PRNG: sfc32 (small, fast, passes PractRand) seeded through splitmix32.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // let the state mix before the first draw
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (p) => next() < p,
  };
}

const MOOD_CUMULATIVE: readonly (readonly [MoodKind, number])[] = (() => {
  let total = 0;
  return MOODS.map((m) => {
    total += MOOD_DISTRIBUTION[m];
    return [m, total] as const;
  });
})();

/** A mood drawn from MOOD_DISTRIBUTION. */
export function drawMood(rng: Rng): MoodKind {
  const x = rng.next();
  for (const [mood, upTo] of MOOD_CUMULATIVE) if (x < upTo) return mood;
  return 'calm';
}

// ---------------------------------------------------------------------------------------------
// Templates

interface SlotRef {
  readonly slot: string;
  readonly josa: string | null;
}
type Part = string | SlotRef;
type Template = readonly Part[];
type Pool = readonly Template[];
type Slots = Readonly<Record<string, readonly string[]>>;
// Template syntax: `{slot}` writes a word from the slot's pool (the same word every time within one
// entry); `{slot|을}` writes only the particle that fits that word, so `{food}{food|을}` → "라면을".

const SLOT = /\{([a-z0-9]+)(?:\|([^}]+))?\}/g;

function compile(text: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(SLOT)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ slot: m[1] as string, josa: m[2] ?? null });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

const pool = (...texts: string[]): Pool => texts.map(compile);

const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;
const RIEUL_FINAL = 8; // ㄹ as a final consonant takes 로, not 으로

/** The particle form that fits `word`: josa('커피', '을') = '를', josa('밥', '을') = '을'. */
export function josa(word: string, particle: string): string {
  const code = word.charCodeAt(word.length - 1);
  const isSyllable = code >= HANGUL_FIRST && code <= HANGUL_LAST;
  const final = isSyllable ? (code - HANGUL_FIRST) % 28 : 0;
  const closed = final !== 0;
  switch (particle) {
    case '이':
    case '가':
      return closed ? '이' : '가';
    case '은':
    case '는':
      return closed ? '은' : '는';
    case '을':
    case '를':
      return closed ? '을' : '를';
    case '과':
    case '와':
      return closed ? '과' : '와';
    case '으로':
    case '로':
      return closed && final !== RIEUL_FINAL ? '으로' : '로';
    case '이랑':
    case '랑':
      return closed ? '이랑' : '랑';
    case '아':
    case '야':
      return closed ? '아' : '야';
    case '이다':
      return closed ? '이다' : '다';
    default:
      return particle;
  }
}

// ---------------------------------------------------------------------------------------------
// Korean bank

interface Topic {
  readonly slots: Slots;
  readonly neutral: Pool;
  readonly pos: Pool;
  readonly neg: Pool;
  readonly anx: Pool;
  readonly hp: Pool;
  readonly hn: Pool;
}

interface Bank {
  readonly slots: Slots;
  readonly topics: readonly Topic[];
  readonly openings: Pool;
  /** Feeling sentences per mood, split into sub-moods (anger / despair / exhaustion, …); one per entry. */
  readonly feel: Readonly<Record<MoodKind, readonly Pool[]>>;
  readonly close: Readonly<Record<MoodKind, Pool>>;
  /** A bad start for a day that ends well, and the words that turn it. */
  readonly badStart: Pool;
  readonly toGood: readonly string[];
  /** A good start for a day that turns bad. */
  readonly goodStart: Pool;
  readonly toBad: readonly string[];
  readonly recovery: Pool;
  readonly heavyOpen: Pool;
  /** Everyday details that pad an entry without changing its mood; heavyDetail for self-harm days. */
  readonly detail: Pool;
  readonly heavyDetail: Pool;
  readonly ideation: Pool;
  readonly titles: Readonly<Record<MoodKind, Pool>>;
  readonly commonTitles: Pool;
  /** English: sentences start with a capital, and a turn word lower-cases the sentence it joins. */
  readonly capitalize: boolean;
}

const KO_SLOTS: Slots = {
  time: ['아침', '오전', '점심', '오후', '저녁', '밤', '새벽', '퇴근길', '출근길', '자기 전'],
  part: ['아침', '오전', '오후', '저녁'],
  place: [
    '카페',
    '도서관',
    '공원',
    '동네 빵집',
    '집 앞 편의점',
    '한강',
    '서점',
    '마트',
    '동네 산책로',
    '단골 국밥집',
    '새로 생긴 카페',
    '시장',
  ],
  food: [
    '김치찌개',
    '된장찌개',
    '떡볶이',
    '치킨',
    '라면',
    '샐러드',
    '돈가스',
    '국밥',
    '마라탕',
    '비빔밥',
    '초밥',
    '파스타',
    '삼겹살',
    '순두부찌개',
    '냉면',
    '짜장면',
    '김밥',
    '햄버거',
    '쌀국수',
    '칼국수',
    '제육볶음',
    '부대찌개',
    '샌드위치',
    '피자',
    '닭갈비',
    '보쌈',
    '우동',
    '카레',
    '감자탕',
    '물회',
    '콩국수',
    '갈비탕',
  ],
  cafe: ['동네 카페', '새로 생긴 디저트 가게', '단골 카페', '빵집'],
  comfort: ['따끈한 국물', '아이스크림', '엄마표 김치볶음밥', '매운 떡볶이', '초콜릿', '붕어빵'],
  breakfast: ['토스트', '시리얼', '바나나', '삶은 달걀', '요거트', '누룽지', '사과 한 개', '식빵'],
  drink: [
    '아이스 아메리카노',
    '따뜻한 라떼',
    '녹차',
    '보리차',
    '유자차',
    '캐모마일 차',
    '바닐라 라떼',
    '레몬에이드',
  ],
  person: [
    '친구',
    '엄마',
    '동생',
    '언니',
    '오빠',
    '누나',
    '동기',
    '선배',
    '룸메이트',
    '오랜 친구',
    '대학 동기',
    '사촌 동생',
    '민지',
    '서연',
    '지훈',
    '현우',
    '유진',
    '하린',
    '도윤',
    '수빈',
  ],
  media: ['드라마', '영화', '예능', '웹툰', '유튜브 영상', '다큐멘터리', '소설책', '에세이', '라디오'],
  activity: ['산책', '요가', '러닝', '수영', '필라테스', '스트레칭', '홈트', '자전거 타기', '등산', '줄넘기'],
  thing: ['일', '할 일', '집안일', '약속', '계획'],
  hobby: [
    '그림',
    '뜨개질',
    '피아노 연습',
    '퍼즐',
    '블로그 글',
    '사이드 프로젝트',
    '베이킹',
    '기타 연습',
    '글쓰기',
  ],
};

const KO_TOPICS: readonly Topic[] = [
  // 회사
  {
    slots: {
      thing: [
        '회의',
        '보고서',
        '발표',
        '프로젝트',
        '기획서',
        '주간 회의',
        '분기 보고',
        '고객 미팅',
        '코드 리뷰',
        '견적서',
      ],
      person: ['팀장님', '옆자리 동료', '입사 동기', '부장님', '후배', '사수', '거래처 담당자', '과장님'],
      place: ['회사 근처 식당', '회사 앞 카페', '구내식당', '회사 옥상'],
    },
    neutral: pool(
      '{part}부터 {thing} 준비로 바빴다.',
      '출근하자마자 메일함부터 정리했다.',
      '점심은 {person}{person|과} {food}{food|을} 먹었다.',
      '아침 일찍 {thing}{thing|이} 잡혀 있어서 평소보다 일찍 출근했다.',
      '{person}{person|이} {thing} 자료를 부탁해서 오후 내내 그걸 만들었다.',
      '퇴근 시간이 다 돼서야 {thing}{thing|을} 마무리했다.',
      '오늘은 재택근무라 집에서 일했다.',
      '회의가 세 개나 연달아 있었다.',
      '{place}에서 {drink}{drink|을} 사 들고 사무실로 들어갔다.',
      '평소처럼 출근하고 평소처럼 퇴근했다.',
      '오후에는 밀린 메일에 답장을 했다.',
    ),
    pos: pool(
      '{thing}{thing|이} 생각보다 순조롭게 끝났다.',
      '{person}{person|이} 내 아이디어가 좋다고 칭찬해 줬다.',
      '미뤄 두었던 {thing}{thing|을} 드디어 끝냈다.',
      '오늘은 정시에 퇴근해서 저녁 시간이 여유로웠다.',
      '{person}{person|이} 고생했다며 커피를 사 줬다.',
      '{thing}에서 내가 낸 의견이 그대로 채택됐다.',
      '팀 점심으로 {food}{food|을} 먹었는데 분위기가 좋았다.',
    ),
    neg: pool(
      '{person}{person|이} {thing} 때문에 나한테 한소리를 했다.',
      '{thing}{thing|이} 갑자기 엎어져서 처음부터 다시 해야 했다.',
      '오늘도 열 시 넘어서까지 야근을 했다.',
      '{thing}에서 실수를 해서 분위기가 싸해졌다.',
      '내가 한 일을 {person}{person|이} 자기가 한 것처럼 말했다.',
      '퇴근 직전에 {thing} 수정 요청이 들어왔다.',
      '점심도 못 먹고 {thing}에 매달렸다.',
    ),
    anx: pool(
      '내일 {thing}{thing|이} 있는데 준비가 덜 됐다.',
      '{person}{person|이} 잠깐 얘기 좀 하자고 해서 하루 종일 신경이 쓰였다.',
      '회사에 구조조정 얘기가 돌아서 다들 분위기가 뒤숭숭했다.',
      '{thing} 마감이 코앞인데 진도가 안 나간다.',
    ),
    hp: pool(
      '몇 달 동안 매달린 {thing}{thing|이} 대성공이었다!',
      '오늘 승진 발표가 났는데 내 이름이 있었다!',
      '대표님 앞에서 한 {thing}{thing|이} 완벽하게 끝났다!',
      '우리 팀이 올해의 프로젝트 상을 받았다!',
    ),
    hn: pool(
      '{person}{person|이} 모두가 보는 앞에서 나를 깎아내렸다.',
      '몇 주 동안 준비한 {thing}{thing|이} 한순간에 없던 일이 됐다.',
      '내 잘못도 아닌 일로 {person}에게 크게 혼났다.',
      '오늘로 야근 3주째다.',
    ),
  },
  // 학교
  {
    slots: {
      thing: ['과제', '팀플', '발표', '수업', '레포트', '실험', '전공 수업', '조별 과제', '졸업 작품'],
      person: ['동기', '과 선배', '룸메이트', '단짝 친구', '후배', '같은 과 친구'],
      mate: ['조원', '같은 조 동기', '조장', '팀플 멤버'],
      place: ['도서관', '학생 식당', '강의실', '과방', '학교 앞 카페', '열람실'],
    },
    neutral: pool(
      '{part}에 {thing} 때문에 학교에 갔다.',
      '수업이 끝나고 {place}에서 {thing}{thing|을} 했다.',
      '{person}{person|과} 학생 식당에서 {food}{food|을} 먹었다.',
      '오늘은 공강이라 {place}에 오래 있었다.',
      '{thing} 자료를 찾느라 오후가 다 갔다.',
      '교수님이 다음 주까지 {thing}{thing|을} 내라고 하셨다.',
      '{place}에서 {drink}{drink|을} 마시면서 책을 읽었다.',
    ),
    pos: pool(
      '{thing}{thing|을} 마감 전에 무사히 제출했다.',
      '교수님이 내 {thing}{thing|이} 좋았다고 말씀해 주셨다.',
      '{person}{person|이랑} 수업 끝나고 한참 수다를 떨었다.',
      '오랜만에 {thing}{thing|이} 술술 풀렸다.',
      '조원들이 다 열심히 해 줘서 {thing}{thing|이} 잘 끝났다.',
    ),
    neg: pool(
      '{mate}{mate|이} 손을 놓아서 {thing}{thing|을} 혼자 다 떠안았다.',
      '{thing} 점수가 생각보다 낮게 나왔다.',
      '{mate}{mate|이} 연락도 없이 {thing} 모임에 빠졌다.',
      '수업 내용이 하나도 이해가 안 됐다.',
      '밤새 한 {thing}{thing|이} 파일 오류로 날아갔다.',
    ),
    anx: pool(
      '내일 {thing}{thing|이} 있는데 아직 반도 못 했다.',
      '졸업하고 뭘 해야 할지 아직도 모르겠다.',
      '학점이 걱정돼서 수업에 집중이 안 됐다.',
    ),
    hp: pool(
      '{thing}에서 과 1등을 했다!',
      '졸업 작품 심사를 한 번에 통과했다!',
      '그렇게 어렵던 {thing}{thing|을} 혼자 힘으로 완성했다!',
      '장학금을 받게 됐다는 연락이 왔다!',
    ),
    hn: pool(
      '{mate}{mate|이} 내가 한 부분을 통째로 지워 버렸다.',
      '한 학기 내내 준비한 {thing}{thing|을} 망쳐 버렸다.',
      '교수님께 모두 앞에서 크게 지적을 받았다.',
    ),
  },
  // 시험
  {
    slots: {
      thing: ['자격증 시험', '공무원 시험', '면허 시험', '필기시험', '임용 시험', '편입 시험', '실기 시험'],
      person: ['스터디 멤버', '친구', '엄마', '같이 공부하는 친구', '선생님'],
      place: ['독서실', '도서관', '스터디 카페', '학원'],
    },
    neutral: pool(
      '{part}부터 {place}에서 {thing} 공부를 했다.',
      '{thing}까지 이제 딱 일주일 남았다.',
      '오늘은 기출 문제를 두 회분 풀었다.',
      '{person}{person|과} 모르는 문제를 같이 풀었다.',
      '점심은 {place} 근처에서 {food}{food|으로} 간단히 때웠다.',
      '계획표대로 오늘 분량을 다 채웠다.',
    ),
    pos: pool(
      '모의고사 점수가 지난번보다 많이 올랐다.',
      '어려웠던 단원이 오늘 드디어 이해됐다.',
      '{thing}{thing|을} 생각보다 잘 본 것 같다.',
      '{person}{person|이} 응원한다며 간식을 챙겨 줬다.',
    ),
    neg: pool(
      '{thing}{thing|을} 완전히 망쳤다.',
      '공부한 데서 하나도 안 나왔다.',
      '몇 시간을 앉아 있었는데 머리에 남은 게 없다.',
      '채점해 보니 생각보다 훨씬 많이 틀렸다.',
    ),
    anx: pool(
      '{thing}{thing|이} 코앞인데 아직 못 본 범위가 많다.',
      '이번에도 떨어지면 어떡하지 하는 생각이 계속 든다.',
      '내일이 {thing}{thing|이다}.',
      '결과 발표가 내일이라 아무것도 손에 안 잡혔다.',
    ),
    hp: pool(
      '{thing}에 합격했다!',
      '드디어 {thing} 최종 합격 문자를 받았다!',
      '{thing}에서 목표 점수를 훨씬 넘겼다!',
      '삼수 끝에 드디어 붙었다!',
    ),
    hn: pool(
      '{thing}에서 또 떨어졌다.',
      '일 년을 준비한 {thing}{thing|을} 한 문제 차이로 떨어졌다.',
      '시험 도중에 머리가 하얘져서 절반도 못 풀었다.',
    ),
  },
  // 이직·취업
  {
    slots: {
      thing: [
        '면접',
        '이력서',
        '자기소개서',
        '포트폴리오',
        '최종 면접',
        '코딩 테스트',
        '인적성 검사',
        '연봉 협상',
      ],
      person: ['헤드헌터', '전 직장 동료', '취업 스터디 멤버', '친구', '엄마', '먼저 이직한 선배'],
    },
    neutral: pool(
      '오늘은 {thing}{thing|을} 고치는 데 하루를 썼다.',
      '{part}에 {thing}{thing|이} 있어서 정장을 입고 나갔다.',
      '채용 공고를 몇 개 더 찾아봤다.',
      '{person}{person|과} 통화하면서 이직 얘기를 했다.',
      '지원서를 세 군데 넣었다.',
      '퇴근하고 {place}에서 {thing} 준비를 했다.',
    ),
    pos: pool(
      '{thing}에서 면접관 분위기가 꽤 좋았다.',
      '서류 합격 메일이 왔다.',
      '{person}{person|이} 좋은 자리를 소개해 줬다.',
      '{thing}{thing|을} 드디어 마음에 들게 완성했다.',
    ),
    neg: pool(
      '또 서류에서 떨어졌다는 메일을 받았다.',
      '{thing}에서 준비한 말을 하나도 제대로 못 했다.',
      '연락 준다던 회사에서 아무 소식이 없다.',
      '{thing}에서 경력이 애매하다는 말을 들었다.',
    ),
    anx: pool(
      '내일 {thing}{thing|이} 있는데 무슨 질문이 나올지 모르겠다.',
      '지금 회사를 나가도 되는 건지 계속 고민된다.',
      '결과를 기다리는 시간이 너무 길다.',
    ),
    hp: pool(
      '가고 싶던 회사에 최종 합격했다!',
      '원하던 조건 그대로 오퍼를 받았다!',
      '{thing}에서 바로 같이 일하자는 말을 들었다!',
    ),
    hn: pool(
      '최종 면접까지 갔는데 결국 떨어졌다.',
      '벌써 서른 번째 불합격이다.',
      '붙은 줄 알았던 곳에서 갑자기 채용이 취소됐다.',
    ),
  },
  // 가족
  {
    slots: {
      person: ['엄마', '아빠', '동생', '할머니', '언니', '오빠', '형', '누나', '부모님', '이모', '삼촌'],
      elder: ['엄마', '아빠', '할머니', '할아버지', '외할머니'],
      thing: ['집안일', '가족 모임', '이사 준비', '명절 준비', '병원 진료', '생일 파티'],
      place: ['본가', '외갓집', '집 근처 공원', '동네 시장', '할머니 댁'],
    },
    neutral: pool(
      '오랜만에 {place}에 다녀왔다.',
      '{person}{person|과} 저녁으로 {food}{food|을} 먹었다.',
      '주말이라 {person}{person|과} 같이 {thing}{thing|을} 했다.',
      '{elder}{elder|이} 반찬을 잔뜩 싸 주셨다.',
      '{person}{person|과} 영상통화를 했다.',
      '저녁에 다 같이 {media}{media|을} 봤다.',
    ),
    pos: pool(
      '{person}{person|이} 끓여 준 {food}{food|이} 정말 맛있었다.',
      '오랜만에 가족이 다 모여서 웃으면서 밥을 먹었다.',
      '{elder}{elder|이} 요즘 많이 건강해지셔서 다행이다.',
      '{person}{person|과} 옛날 사진을 보면서 한참 웃었다.',
      '{elder}께 용돈을 드렸더니 무척 좋아하셨다.',
    ),
    neg: pool(
      '{person}{person|과} 사소한 일로 말다툼을 했다.',
      '{person}{person|이} 또 결혼 얘기를 꺼내서 기분이 상했다.',
      '{elder}{elder|이} 편찮으셔서 병원에 모시고 갔다.',
      '집에 오니 또 잔소리가 이어졌다.',
      '{person}{person|과} 서로 언성을 높였다.',
    ),
    anx: pool(
      '{elder}{elder|이} 검사 결과를 기다리고 계셔서 마음이 무겁다.',
      '집 계약 문제로 {person}{person|과} 계속 통화했다.',
      '{elder}{elder|이} 요즘 부쩍 기운이 없어 보여서 걱정이다.',
    ),
    hp: pool(
      '동생이 결혼을 한다고 해서 온 가족이 난리가 났다!',
      '{elder}{elder|이} 수술을 잘 마치고 건강하게 퇴원하셨다!',
      '드디어 부모님께 여행을 보내 드렸다!',
    ),
    hn: pool(
      '{person}{person|과} 크게 싸우고 집을 나와 버렸다.',
      '{person}{person|이} 내 앞에서 나를 무시하는 말을 했다.',
      '가족 모두가 나한테만 책임을 떠넘겼다.',
    ),
  },
  // 연애
  {
    slots: {
      person: ['남자친구', '여자친구', '애인', '썸 타는 사람', '소개팅 상대', '남편', '아내'],
      thing: ['데이트', '기념일', '여행 계획', '저녁 약속', '영화 데이트'],
      place: ['한강', '성수동 카페', '전시회', '놀이공원', '바닷가', '동네 맛집', '영화관'],
    },
    neutral: pool(
      '{person}{person|과} {place}에 다녀왔다.',
      '퇴근하고 {person}{person|과} {food}{food|을} 먹었다.',
      '{person}{person|과} 주말 {thing}{thing|을} 정했다.',
      '{person}{person|과} 밤늦게까지 통화했다.',
      '{person}{person|이} 회사 앞으로 데리러 왔다.',
    ),
    pos: pool(
      '{person}{person|이} 깜짝 선물을 줬다.',
      '{person}{person|과} 손잡고 한참을 걸었다.',
      '{person}{person|이} 힘들 때 옆에 있어 줘서 고마웠다.',
      '{place}에서 찍은 사진이 너무 잘 나왔다.',
      '{person}{person|이} 내 얘기를 끝까지 들어 줬다.',
    ),
    neg: pool(
      '{person}{person|과} 연락 문제로 또 싸웠다.',
      '{person}{person|이} 약속을 잊어버렸다.',
      '{person}{person|이} 하루 종일 답장이 없었다.',
      '{thing} 얘기를 하다가 서로 말이 날카로워졌다.',
      '{person}{person|과} 헤어졌다.',
    ),
    anx: pool(
      '{person}{person|이} 요즘 좀 달라진 것 같아서 신경 쓰인다.',
      '내일 {person}{person|과} 진지하게 얘기해 보기로 했다.',
      '고백을 할지 말지 계속 고민된다.',
    ),
    hp: pool(
      '{person}{person|이} 프러포즈를 했다!',
      '{place}에서 {person}에게 고백을 받았다!',
      '{person}{person|과} 드디어 같이 살 집을 계약했다!',
    ),
    hn: pool(
      '{person}{person|이} 다른 사람을 만나고 있었다는 걸 알게 됐다.',
      '3년 만난 {person}{person|이} 갑자기 이별을 통보했다.',
      '{person}{person|과} 크게 싸우고 연락이 끊겼다.',
    ),
  },
  // 친구
  {
    slots: {
      person: [
        '친구',
        '오랜 친구',
        '고등학교 친구',
        '대학 동기',
        '민지',
        '서연',
        '지훈',
        '현우',
        '유진',
        '하린',
      ],
      thing: ['약속', '모임', '생일 파티', '동창회', '여행 계획'],
      place: ['을지로 술집', '홍대', '동네 카페', '친구 집', '노래방', '보드게임 카페', '전시회'],
    },
    neutral: pool(
      '{person}{person|과} {place}에서 만났다.',
      '{person}{person|이랑} {food}{food|을} 먹고 {place}에 갔다.',
      '저녁에 {thing}{thing|이} 있어서 나갔다 왔다.',
      '{person}{person|이} 오랜만에 연락을 해 왔다.',
      '{person}{person|이} 이사한 집에 놀러 갔다.',
    ),
    pos: pool(
      '{person}{person|과} 옛날 얘기를 하면서 배꼽 빠지게 웃었다.',
      '{person}{person|이} 내 생일을 기억하고 선물을 보내 줬다.',
      '{place}에서 {person}{person|과} 시간 가는 줄 모르고 놀았다.',
      '오랜만에 만났는데도 어제 본 것처럼 편했다.',
    ),
    neg: pool(
      '{person}{person|이} 약속 시간에 한 시간이나 늦었다.',
      '{thing}에서 나만 겉도는 느낌이 들었다.',
      '{person}{person|이} 한 농담이 계속 마음에 걸린다.',
      '{person}{person|과} 돈 문제로 어색해졌다.',
      '다들 잘 지내는 것 같은데 나만 제자리인 것 같았다.',
    ),
    anx: pool(
      '{person}{person|이} 며칠째 연락이 안 된다.',
      '{thing}에 가야 하는데 사람 많은 자리가 부담된다.',
      '{person}에게 서운한 걸 말해야 할지 고민이다.',
    ),
    hp: pool(
      '친구들이 깜짝 생일 파티를 열어 줬다!',
      '10년 만에 {person}{person|과} 다시 만났다!',
      '{person}{person|이랑} 계획만 하던 여행을 드디어 떠났다!',
    ),
    hn: pool(
      '믿었던 {person}{person|이} 내 얘기를 다른 사람들한테 다 하고 다녔다.',
      '{person}{person|과} 크게 싸우고 연락을 끊었다.',
      '{person}{person|이} 빌려 간 돈을 갚지 않고 연락을 피한다.',
    ),
  },
  // 운동
  {
    slots: {
      thing: ['러닝', '헬스', '요가', '수영', '필라테스', '클라이밍', '등산', '자전거', '테니스', '배드민턴'],
      person: ['트레이너 선생님', '운동 메이트', '친구', '동생', '크루 사람들'],
      place: ['한강', '헬스장', '동네 공원', '학교 운동장', '뒷산', '수영장'],
    },
    neutral: pool(
      '{part}에 {place}에서 {thing}{thing|을} 했다.',
      '오늘은 가볍게 {activity}만 했다.',
      '퇴근하고 {thing} 수업에 다녀왔다.',
      '{person}{person|과} 같이 {place}{place|을} 한 바퀴 돌았다.',
      '운동 끝나고 {food}{food|을} 먹었다.',
    ),
    pos: pool(
      '{thing} 기록이 지난주보다 좋아졌다.',
      '땀을 쫙 빼고 나니 몸이 개운했다.',
      '{person}{person|이} 자세가 많이 좋아졌다고 했다.',
      '미루던 {thing}{thing|을} 오늘은 빠지지 않고 해냈다.',
      '운동하고 나니 머리가 맑아졌다.',
    ),
    neg: pool(
      '{thing} 하다가 발목을 살짝 삐었다.',
      '오늘도 운동을 빼먹었다.',
      '몸이 무거워서 {thing}{thing|을} 반도 못 했다.',
      '체중계 숫자가 그대로라 허탈했다.',
    ),
    anx: pool(
      '다음 주 대회에 나가기로 했는데 자신이 없다.',
      '무릎이 계속 아파서 {thing}{thing|을} 계속해도 될지 모르겠다.',
    ),
    hp: pool(
      '생애 첫 하프 마라톤을 완주했다!',
      '{thing} 대회에서 메달을 땄다!',
      '목표 체중을 드디어 달성했다!',
      '{place}에서 {thing}{thing|을} 하는데 완전히 몰입해서 시간 가는 줄 몰랐다.',
    ),
    hn: pool('몇 달 준비한 대회를 부상 때문에 포기해야 했다.', '{thing} 하다가 크게 다쳐서 깁스를 했다.'),
  },
  // 육아
  {
    slots: {
      person: ['아이', '첫째', '둘째', '아기', '딸', '아들', '막내'],
      partner: ['남편', '아내', '친정엄마', '시어머니'],
      thing: ['어린이집 등원', '이유식', '낮잠 재우기', '목욕', '예방접종', '놀이터 나들이', '숙제 봐 주기'],
      place: ['놀이터', '키즈카페', '소아과', '어린이집', '동네 공원', '도서관 어린이 열람실'],
    },
    neutral: pool(
      '{part}에 {thing}{thing|을} 하고 나니 벌써 점심이었다.',
      '{person}{person|과} {place}에 다녀왔다.',
      '오늘은 {thing} 때문에 하루가 정신없이 흘러갔다.',
      '{partner}{partner|이} 일찍 들어와서 같이 저녁을 먹었다.',
      '{person}{person|이} 낮잠을 자는 동안 밀린 빨래를 했다.',
      '저녁으로 {person}{person|이} 좋아하는 {food}{food|을} 만들었다.',
    ),
    pos: pool(
      '{person}{person|이} 처음으로 혼자 걸었다.',
      '{person}{person|이} 엄마 사랑해라고 말해 줬다.',
      '{person}{person|이} 그린 그림을 선물로 받았다.',
      '오늘은 {person}{person|이} 밥을 한 그릇 다 먹었다.',
      '{place}에서 {person}{person|이} 까르르 웃는 걸 보니 피곤이 다 풀렸다.',
    ),
    neg: pool(
      '{person}{person|이} 하루 종일 떼를 썼다.',
      '{person}{person|이} 밤새 열이 나서 한숨도 못 잤다.',
      '나도 모르게 {person}에게 소리를 질러 버렸다.',
      '{partner}{partner|이} 오늘도 늦게 들어와서 혼자 육아하는 것 같아 서러웠다.',
    ),
    anx: pool(
      '{person}{person|이} 요즘 밥을 잘 안 먹어서 걱정이다.',
      '복직 날짜가 다가오는데 {person}{person|을} 맡길 곳이 마땅치 않다.',
      '{person}{person|이} 기침을 계속해서 마음이 쓰인다.',
    ),
    hp: pool(
      '{person}{person|이} 처음으로 엄마라고 불렀다!',
      '{person}{person|이} 발표회에서 씩씩하게 무대를 마쳤다!',
      '{person}{person|이} 오늘 처음으로 두 발 자전거를 탔다!',
    ),
    hn: pool('{person}{person|이} 밤새 울어서 사흘째 거의 못 잤다.', '혼자 애를 보다가 결국 폭발해 버렸다.'),
  },
  // 일상·휴식·취미
  {
    slots: {
      thing: ['대청소', '빨래', '장보기', '분리수거', '방 정리', '화분 분갈이', '옷장 정리'],
      person: ['친구', '엄마', '룸메이트', '동생', '고양이', '강아지'],
    },
    neutral: pool(
      '오늘은 하루 종일 집에 있었다.',
      '{part}에 {thing}{thing|을} 했다.',
      '{place}에 들러서 {drink}{drink|을} 한 잔 마셨다.',
      '저녁엔 {media}{media|을} 보면서 쉬었다.',
      '{hobby}{hobby|을} 조금 했다.',
      '{place}까지 천천히 걸어갔다 왔다.',
      '냉장고에 있던 재료로 {food}{food|을} 만들어 먹었다.',
      '{person}{person|이} 하루 종일 옆에 붙어 있었다.',
    ),
    pos: pool(
      '오랜만에 {thing}{thing|을} 끝내니 집이 반짝반짝했다.',
      '{place}에서 산 빵이 기가 막히게 맛있었다.',
      '{hobby}{hobby|이} 오늘따라 술술 잘 됐다.',
      '햇살 좋은 창가에서 낮잠을 푹 잤다.',
      '새로 산 {drink}{drink|이} 딱 내 취향이었다.',
    ),
    neg: pool(
      '하루 종일 누워만 있었다.',
      '택배가 또 잘못 왔다.',
      '{thing}{thing|을} 하려다가 결국 못 했다.',
      '윗집 소음 때문에 잠을 설쳤다.',
      '비싼 돈 주고 산 {food}{food|이} 맛이 없었다.',
    ),
    anx: pool(
      '카드값 나갈 날이 다가와서 마음이 편하지 않다.',
      '이번 달 월세가 걱정이다.',
      '계약 만료가 다가오는데 이사 갈 집을 아직 못 구했다.',
    ),
    hp: pool(
      '몇 달 동안 붙잡고 있던 {hobby}{hobby|을} 드디어 완성했다!',
      '{hobby}{hobby|을} 하다 보니 시간 가는 줄 모르고 완전히 몰입했다.',
      '내 {hobby}{hobby|이} 공모전에 당선됐다!',
    ),
    hn: pool('집주인이 갑자기 보증금을 못 돌려준다고 했다.', '지갑을 잃어버려서 하루 종일 찾아 헤맸다.'),
  },
];

const KO: Bank = {
  slots: KO_SLOTS,
  topics: KO_TOPICS,
  openings: pool(
    '오늘은 하루 종일 비가 왔다.',
    '아침부터 하늘이 잔뜩 흐렸다.',
    '오랜만에 하늘이 맑고 바람이 선선했다.',
    '일어나자마자 {drink}{drink|을} 한 잔 마셨다.',
    '알람을 몇 번이나 끄고 겨우 일어났다.',
    '오늘은 평소보다 일찍 눈이 떠졌다.',
    '날씨가 갑자기 쌀쌀해졌다.',
    '하루 종일 미세먼지가 심했다.',
    '오늘은 눈이 펑펑 내렸다.',
    '날이 너무 더워서 땀이 줄줄 났다.',
    '오랜만에 늦잠을 잤다.',
    '일기 쓴 지 {n}일째다.',
    '벌써 한 주의 절반이 지나갔다.',
    '주말이라 느지막이 일어났다.',
    '아침으로 {breakfast}{breakfast|을} 간단히 먹었다.',
    '출근길 지하철이 평소보다 붐볐다.',
    '창문을 여니 바람에서 계절 냄새가 났다.',
    '어제 늦게 자서 그런지 아침부터 멍했다.',
    '오늘은 월요일이었다.',
    '드디어 금요일이다.',
    '하늘이 유난히 높고 파랬다.',
    '밤새 천둥이 쳤다.',
  ),
  feel: {
    calm: [
      pool(
        '별일 없이 잔잔하게 지나간 하루였다.',
        '특별한 건 없었지만 나쁘지 않았다.',
        '오랜만에 마음이 차분했다.',
        '그냥 평범한 하루였다.',
        '{drink}{drink|을} 마시면서 창밖을 멍하니 봤다.',
        '저녁엔 {media}{media|을} 보면서 쉬었다.',
        '무난하게 하루가 흘러갔다.',
        '좋지도 나쁘지도 않은 하루.',
        '일찍 씻고 누워서 책을 조금 읽었다.',
        '{place}에 들러서 잠깐 쉬었다 왔다.',
        '조용한 하루라 오히려 편했다.',
        '해야 할 일을 하나씩 처리했다.',
        '오늘 하루도 그럭저럭 지나갔다.',
        '{person}{person|과} 짧게 통화했다.',
        '저녁 공기가 선선했다.',
        '자기 전에 {activity}{activity|을} 조금 했다.',
        '밤에 일기를 쓰면서 하루를 천천히 돌아봤다.',
        '저녁은 {food}{food|으로} 간단히 먹었다.',
        '늘 가던 {place}에 갔다.',
        '오늘은 휴대폰을 덜 보려고 노력했다.',
        '큰일 없이 무사히 하루가 끝났다.',
      ),
    ],
    positive: [
      pool(
        '오랜만에 기분이 정말 좋았다.',
        '덕분에 하루 종일 기분이 좋았다.',
        '별것 아닌 일인데 괜히 웃음이 났다.',
        '한참 수다를 떨고 나니 마음이 가벼워졌다.',
        '작은 일이지만 뿌듯했다.',
        '요즘 중에 제일 즐거운 하루였다.',
        '소소하지만 행복한 하루였다.',
        '저녁에 먹은 {food}{food|이} 너무 맛있어서 행복했다.',
        '생각보다 잘 풀려서 다행이었다.',
        '마음이 따뜻해지는 하루였다.',
        '고마운 사람이 많다는 걸 새삼 느꼈다.',
        '오늘은 나 자신을 좀 칭찬해 주고 싶다.',
        '기분 좋은 피곤함이었다.',
        '괜히 설레는 하루였다.',
        '고생한 보람이 있었다.',
        '{person}에게 고맙다고 메시지를 보냈다.',
        '햇살이 좋아서 걷는 내내 기분이 좋았다.',
        '마음이 한결 편안해졌다.',
        '오늘은 웃을 일이 많았다.',
        '저녁에 {cafe}에서 먹은 디저트까지 완벽했다.',
        '이런 날이 있어서 또 힘을 내게 된다.',
      ),
    ],
    negative: [
      pool(
        '하루 종일 기분이 별로였다.',
        '괜히 서운한 마음이 들었다.',
        '생각할수록 속상하다.',
        '몸도 마음도 지친 하루였다.',
        '별일 아닌 일에 짜증을 내 버렸다.',
        '집에 오는 길에 괜히 눈물이 났다.',
        '요즘 뭘 해도 재미가 없다.',
        '마음이 답답하고 무거웠다.',
        '내가 왜 그랬을까 자꾸 후회가 된다.',
        '피곤해서 아무것도 하기 싫었다.',
        '{person}{person|이} 한 말이 계속 마음에 걸린다.',
        '오늘따라 외로웠다.',
        '기운이 하나도 없었다.',
        '화가 났지만 꾹 참았다.',
        '괜히 나만 뒤처지는 것 같아서 우울했다.',
        '머리가 아프고 하루가 길게 느껴졌다.',
        '실망스러운 하루였다.',
        '{thing} 생각만 하면 한숨이 나온다.',
        '오늘은 모든 게 다 귀찮았다.',
        '사람들 사이에 있어도 쓸쓸했다.',
        '괜히 {person}에게 서운했다.',
      ),
    ],
    anxious: [
      pool(
        '괜히 마음이 불안하다.',
        '잘할 수 있을지 걱정이 된다.',
        '생각이 많아서 잠이 안 온다.',
        '하루 종일 가슴이 답답했다.',
        '머릿속이 복잡하다.',
        '혹시 잘못되면 어떡하지 하는 생각이 계속 든다.',
        '긴장해서 밥도 제대로 못 먹었다.',
        '아무 일도 손에 잡히지 않았다.',
        '불안한 마음에 자꾸 휴대폰만 확인했다.',
        '괜찮을 거라고 스스로 다독였지만 쉽지 않았다.',
        '걱정이 꼬리에 꼬리를 문다.',
        '내가 잘하고 있는 건지 모르겠다.',
        '초조해서 방 안을 계속 서성였다.',
        '작은 일에도 자꾸 마음이 조마조마했다.',
        '심장이 빨리 뛰고 숨이 얕아졌다.',
        '자꾸 최악의 상황만 상상하게 된다.',
      ),
    ],
    high_positive: [
      pool(
        '진짜 너무 행복해서 소리를 질렀다!',
        '심장이 터질 것처럼 기뻤다.',
        '눈물이 날 만큼 뿌듯했다.',
        '그동안 고생한 게 한 번에 보상받는 기분이었다.',
        '세상을 다 가진 것 같은 기분이다!',
        '정말 인생 최고의 날이다!',
        '너무 기뻐서 {person}에게 바로 전화했다.',
        '하루 종일 입꼬리가 내려가질 않았다.',
        '내가 해냈다는 게 아직도 믿기지 않는다!',
        '너무 감격스러워서 한참을 울었다.',
        '정말 날아갈 것 같은 기분이었다!',
        '가슴이 벅차서 말이 안 나왔다.',
        '지금도 너무 신나서 가만히 있을 수가 없다!',
        '엄청 자랑스럽고 행복하다!',
      ),
      pool(
        '시간 가는 줄 모르고 완전히 몰입했다.',
        '몇 시간 동안 엄청 집중해서 한 번에 끝냈다.',
        '정말 오랜만에 완벽하게 몰입한 하루였다.',
        '온 정신을 쏟았더니 몸은 지쳐도 마음은 너무 뿌듯하다.',
        '머리가 엄청 맑고 모든 게 착착 맞아떨어졌다.',
        '이렇게까지 집중이 잘 된 건 처음이다!',
        '끝내고 나니 정말 짜릿했다!',
      ),
    ],
    high_negative: [
      pool(
        '너무 화가 나서 손이 덜덜 떨렸다.',
        '진짜 미칠 것 같이 짜증이 났다.',
        '생각할수록 열받아서 잠이 안 온다.',
        '억울해서 미쳐 버릴 것 같다.',
        '그 말을 듣는 순간 머리끝까지 화가 났다.',
        '분노가 가라앉지 않는다.',
        '정말 너무 어이가 없어서 말도 안 나왔다.',
        '집에 와서 베개에 대고 소리를 질렀다.',
      ),
      pool(
        '모든 게 다 무너지는 것 같다.',
        '아무리 노력해도 달라지는 게 없다는 생각에 너무 절망스러웠다.',
        '앞이 깜깜하고 너무 막막하다.',
        '하루 종일 울기만 했다.',
        '가슴이 찢어질 것처럼 아팠다.',
        '정말 너무 비참했다.',
        '숨이 막힐 정도로 답답하고 괴로웠다.',
      ),
      pool(
        '완전히 지쳐서 아무것도 할 수가 없었다.',
        '몸이 부서질 것처럼 피곤하다.',
        '진짜 피곤해서 죽을 것 같다.',
        '번아웃이 제대로 온 것 같다.',
        '손가락 하나 까딱할 힘도 없다.',
        '며칠째 제대로 못 자서 정신이 나갈 것 같다.',
        '너무 힘들어서 집에 오자마자 쓰러졌다.',
      ),
    ],
    self_harm: [
      pool(
        '너무 지치고 공허하다.',
        '다 내 잘못인 것 같다.',
        '아무도 내 마음을 모를 것 같다.',
        '눈물이 나는데 왜 우는지도 모르겠다.',
        '매일 그냥 버티고만 있다.',
        '무엇을 해도 의미가 없게 느껴진다.',
        '숨 쉬는 것조차 버겁다.',
        '마음이 텅 빈 것 같다.',
      ),
    ],
  },
  close: {
    calm: pool(
      '내일도 오늘만 같으면 좋겠다.',
      '오늘은 일찍 자야겠다.',
      '이만 자야지.',
      '내일은 조금 더 부지런해져야지.',
      '이런 날도 필요하다.',
      '평범한 하루도 나쁘지 않다.',
      '내일은 {food}{food|을} 먹어야지.',
      '내일 할 일을 적어 두고 잔다.',
      '잘 자자.',
      '내일은 {activity}{activity|을} 해 봐야겠다.',
    ),
    positive: pool(
      '내일도 오늘 같았으면 좋겠다.',
      '이 기분 그대로 푹 자야겠다.',
      '감사한 하루였다.',
      '좋은 하루였다!',
      '내일도 힘내 보자.',
      '오늘 같은 날을 오래 기억하고 싶다.',
      '행복한 마음으로 잠들 수 있을 것 같다.',
      '내일이 기대된다.',
      '수고했어, 오늘의 나.',
    ),
    negative: pool(
      '빨리 자고 잊어버리고 싶다.',
      '내일은 좀 나았으면 좋겠다.',
      '오늘은 그냥 일찍 자야겠다.',
      '그래도 내일은 괜찮아지겠지.',
      '따뜻한 물로 씻고 자야지.',
      '이런 날도 있는 거겠지.',
      '내일은 오늘보다 덜 힘들기를.',
    ),
    anxious: pool(
      '내일은 잘 됐으면 좋겠다.',
      '일단 할 수 있는 건 다 했다.',
      '걱정한다고 달라지는 건 없으니 자야겠다.',
      '제발 별일 없기를.',
      '내일 일은 내일 생각하자.',
      '심호흡 한 번 하고 자자.',
    ),
    high_positive: pool(
      '오늘을 절대 잊지 못할 것 같다!',
      '정말 최고의 하루였다!',
      '너무너무 행복한 하루!',
      '내일이 너무 기대된다!',
      '앞으로도 이렇게 달려 보자!',
      '오늘의 나, 정말 잘했어!',
    ),
    high_negative: pool(
      '오늘은 정말 최악이었다.',
      '제발 내일은 좀 나았으면 좋겠다.',
      '아무 생각 없이 자고 싶다.',
      '이 상태로 계속 버틸 수 있을지 모르겠다.',
      '진짜 너무 힘든 하루였다.',
    ),
    self_harm: pool(
      '내일 상담 선생님께 이 마음을 말해 봐야겠다.',
      '그래도 일기는 써 본다.',
      '이런 마음을 누군가에게 털어놓고 싶다.',
      '오늘은 그냥 여기까지.',
      '{person}에게 연락해 볼까 고민 중이다.',
      '불을 끄고 누워도 잠이 오지 않는다.',
    ),
  },
  badStart: pool(
    '아침부터 지하철이 늦게 와서 짜증이 났다.',
    '출근길에 비를 쫄딱 맞아서 기분이 별로였다.',
    '늦잠을 자서 정신없이 뛰어나갔다.',
    '오전에는 컨디션이 안 좋아서 힘들었다.',
    '아침에 {person}{person|과} 사소한 걸로 다퉜다.',
    '아침부터 두통이 있어서 괴로웠다.',
  ),
  toGood: ['그래도 ', '그런데 ', '다행히 ', '오후에는 ', ''],
  goodStart: pool(
    '아침엔 날씨가 좋아서 기분이 좋았다.',
    '오전까지는 괜찮았다.',
    '점심까지만 해도 꽤 즐거웠다.',
    '아침에 {breakfast}{breakfast|을} 먹으면서 여유를 부렸다.',
  ),
  toBad: ['그런데 ', '하지만 ', '오후에 ', '그러다 '],
  recovery: pool(
    '그래도 {person}{person|이} 보내 준 메시지에 조금 위로가 됐다.',
    '그래도 저녁에 먹은 {comfort} 덕분에 조금 나아졌다.',
    '자기 전에 샤워하고 나니 그나마 괜찮아졌다.',
    '그래도 {activity}{activity|을} 하고 나니 머리가 좀 맑아졌다.',
  ),
  detail: pool(
    '퇴근길에 편의점에 들러 {drink}{drink|을} 샀다.',
    '저녁에는 {media}{media|을} 틀어 놓고 쉬었다.',
    '퇴근길에 동네 마트에 잠깐 들렀다.',
    '버스에서 졸다가 한 정거장을 지나칠 뻔했다.',
    '오후에 비가 잠깐 내렸다.',
    '집에 와서 밀린 빨래를 돌렸다.',
    '자기 전에 내일 할 일을 정리했다.',
    '오늘은 만 보 넘게 걸었다.',
    '휴대폰을 보다가 늦게 잤다.',
    '커피를 두 잔이나 마셨다.',
    '엘리베이터가 점검 중이라 계단으로 올라갔다.',
    '점심시간에 잠깐 산책을 했다.',
    '주문한 택배가 도착해 있었다.',
    '지하철에서 책을 몇 장 읽었다.',
    '저녁으로 {food}{food|을} 시켜 먹었다.',
    '냉장고를 한 번 정리했다.',
    '{person}에게서 안부 문자가 왔다.',
    '오랜만에 손톱을 깎고 방을 환기했다.',
    '점심은 {food}{food|으로} 간단히 먹었다.',
    '저녁에 {activity}{activity|을} 조금 했다.',
    '창밖으로 노을이 지는 걸 봤다.',
    '다음 주 일정을 달력에 적어 두었다.',
  ),
  heavyDetail: pool(
    '밥은 대충 때웠다.',
    '하루 종일 커튼을 치고 있었다.',
    '휴대폰만 붙잡고 누워 있었다.',
    '씻는 것도 겨우 했다.',
    '메시지가 와도 답장을 못 했다.',
    '창밖을 한참 멍하니 봤다.',
  ),
  heavyOpen: pool(
    '요즘 계속 잠을 제대로 못 자고 있다.',
    '오늘도 하루 종일 방에서 나가지 않았다.',
    '아무것도 하기 싫은 날이 계속된다.',
    '누구와도 말하고 싶지 않았다.',
    '밥 먹는 것도 귀찮아서 하루 종일 굶었다.',
    '또 하루가 지나갔다.',
  ),
  ideation: pool(
    '그냥 어디론가 사라지고 싶다는 생각이 들었다.',
    '내가 없어도 아무도 모를 것 같다.',
    '아침에 눈을 뜨지 않았으면 좋겠다는 생각을 했다.',
    '요즘은 살기 싫다는 생각이 자주 든다.',
    '차라리 없어지고 싶다.',
    '다 그만두고 사라지고 싶다.',
    '이렇게 사는 게 무슨 의미가 있나 싶다.',
    '죽고 싶다는 생각이 머릿속을 떠나지 않는다.',
    '태어나지 말았어야 했나 싶다.',
    '잠들어서 깨어나지 않았으면 좋겠다.',
    '세상에서 조용히 사라지고 싶다.',
    '나 하나 없어져도 달라질 건 없을 것 같다.',
  ),
  titles: {
    calm: pool('잔잔한 하루', '보통날', '조용한 하루', '그냥 그런 날', '평범한 하루', '쉼'),
    positive: pool(
      '좋은 하루',
      '기분 좋은 날',
      '소확행',
      '감사한 하루',
      '오늘은 맑음',
      '웃은 날',
      '{food} 최고',
    ),
    negative: pool('지친 하루', '속상한 날', '힘든 하루', '흐림', '별로였던 날', '한숨'),
    anxious: pool('걱정', '잠 못 드는 밤', '내일이 무섭다', '불안', '생각이 많은 밤'),
    high_positive: pool('해냈다!!', '최고의 날', '드디어!!', '행복 그 자체', '오늘을 기억해', '꿈같은 하루'),
    high_negative: pool('최악', '진짜 너무 힘들다', '폭발 직전', '무너진 날', '한계'),
    self_harm: pool('…', '그냥', '무거운 밤', '요즘', '아무 말'),
  },
  commonTitles: pool(
    '{food} 먹은 날',
    '비 오는 날',
    '오늘의 기록',
    '{n}일째',
    '오늘 하루',
    '{place}에서',
    '월요병',
    '주말',
    '하루 끝',
    '메모',
    '{person}{person|과} 함께',
  ),
  capitalize: false,
};

// ---------------------------------------------------------------------------------------------
// English bank (about 5% of entries): same structure, smaller pools, no particles.

const EN_SLOTS: Slots = {
  time: ['in the morning', 'at lunch', 'in the afternoon', 'after work', 'late at night', 'before bed'],
  part: ['morning', 'afternoon', 'evening'],
  place: [
    'the café',
    'the library',
    'the park',
    'a bookstore',
    'the river path',
    'the market',
    'a new bakery',
  ],
  food: [
    'pizza',
    'ramen',
    'tacos',
    'sushi',
    'pasta',
    'a salad',
    'curry',
    'a sandwich',
    'fried chicken',
    'pho',
    'dumplings',
    'tteokbokki',
  ],
  breakfast: ['toast', 'oatmeal', 'a banana', 'eggs', 'yogurt', 'cereal'],
  drink: ['coffee', 'an iced latte', 'green tea', 'a cup of tea', 'hot chocolate'],
  person: [
    'my sister',
    'my mom',
    'my dad',
    'a friend',
    'my roommate',
    'my partner',
    'an old friend',
    'my brother',
  ],
  media: ['a movie', 'a documentary', 'a few episodes of a drama', 'a podcast', 'a novel'],
  activity: ['a walk', 'some yoga', 'a short run', 'some stretching', 'a bike ride'],
  thing: ['chores', 'errands', 'my to-do list', 'the plan'],
  hobby: ['painting', 'knitting', 'my side project', 'the piano', 'baking', 'writing'],
};

const EN_TOPICS: readonly Topic[] = [
  {
    slots: {
      thing: [
        'the meeting',
        'the report',
        'the presentation',
        'the project',
        'the proposal',
        'the client call',
      ],
      person: ['my manager', 'a coworker', 'my team lead', 'the new hire', 'my boss'],
    },
    neutral: pool(
      'Spent most of the {part} preparing {thing}.',
      'Had lunch with {person} near the office.',
      'Worked from home today.',
      'Three meetings back to back.',
      'Cleared out my inbox first thing.',
    ),
    pos: pool(
      '{thing} went better than I expected.',
      '{person} said my idea was really good.',
      'Finally finished {thing} I had been putting off.',
      'Left work on time for once.',
    ),
    neg: pool(
      '{person} criticized my work in front of everyone.',
      '{thing} fell apart and I had to start over.',
      'Stayed late again to fix {thing}.',
      'Got a pile of last-minute changes right before leaving.',
    ),
    anx: pool('I have {thing} tomorrow and I am not ready.', 'There are rumors about layoffs at work.'),
    hp: pool(
      'I got promoted today!',
      '{thing} was a huge success!',
      'We shipped the project and it went perfectly!',
    ),
    hn: pool(
      '{person} took credit for my work in front of the whole team.',
      'Weeks of work on {thing} got cancelled.',
    ),
  },
  {
    slots: {
      thing: ['the exam', 'the midterm', 'my thesis', 'the assignment', 'the group project', 'the final'],
      person: ['my classmate', 'my professor', 'my study partner', 'my roommate'],
    },
    neutral: pool(
      'Studied at {place} most of the day.',
      'Went over old problems for {thing}.',
      'Had {food} with {person} after class.',
      'Only one week left until {thing}.',
    ),
    pos: pool(
      'Handed in {thing} before the deadline.',
      '{person} said my draft was strong.',
      'A chapter that confused me finally clicked.',
    ),
    neg: pool(
      'I totally bombed {thing}.',
      'Lost hours of work on {thing} to a crashed laptop.',
      '{person} did not show up for {thing} again.',
    ),
    anx: pool('{thing} is tomorrow and I have barely started.', 'Still waiting for my results.'),
    hp: pool('I passed {thing}!', 'Got the scholarship!', 'I got into my first-choice program!'),
    hn: pool('Failed {thing} again after a whole year of studying.', 'My professor tore my thesis apart.'),
  },
  {
    slots: {
      person: ['my mom', 'my dad', 'my sister', 'my brother', 'my grandma', 'my partner', 'my kid'],
      thing: ['dinner', 'the move', 'the birthday party', 'the holidays'],
    },
    neutral: pool(
      'Had dinner with {person}.',
      'Called {person} in the evening.',
      'Helped {person} with {thing}.',
      'Watched {media} with {person}.',
    ),
    pos: pool(
      '{person} made my favorite {food}.',
      'We laughed a lot looking at old photos.',
      '{person} is feeling much better.',
    ),
    neg: pool(
      'Argued with {person} about something small.',
      '{person} brought up the same old complaints.',
      '{person} was sick and I spent the day at the hospital.',
    ),
    anx: pool('{person} is waiting for test results.', 'Money has been tight at home.'),
    hp: pool('{person} got engaged!', 'The whole family finally got together after years!'),
    hn: pool('Had a huge fight with {person} and left the house.', '{person} said things I cannot forget.'),
  },
  {
    slots: {
      thing: ['my run', 'the gym', 'yoga class', 'swimming', 'climbing'],
      person: ['my running buddy', 'my trainer', 'a friend'],
    },
    neutral: pool(
      'Went for {activity} in the {part}.',
      'Did {thing} after work.',
      'Had {food} after the workout.',
    ),
    pos: pool('Beat my personal best on {thing}.', 'Felt light and refreshed after {thing}.'),
    neg: pool('Skipped {thing} again.', 'Twisted my ankle during {thing}.'),
    anx: pool('The race is next week and my knee still hurts.'),
    hp: pool(
      'I finished my first half marathon!',
      'I was so in the zone on {thing} that I lost track of time.',
    ),
    hn: pool('Got injured and had to drop out of the race I trained months for.'),
  },
];

const EN: Bank = {
  slots: EN_SLOTS,
  topics: EN_TOPICS,
  openings: pool(
    'It rained all day.',
    'The sky was grey from the morning.',
    'Beautiful clear weather today.',
    'Woke up early and had {drink}.',
    'Snoozed the alarm three times.',
    'Had {breakfast} for breakfast.',
    'Day {n} of keeping this journal.',
    'Finally Friday.',
    'Slept in a little.',
  ),
  feel: {
    calm: [
      pool(
        'A quiet, ordinary day.',
        'Nothing special happened, and that was fine.',
        'Read for a while before bed.',
        'Watched {media} and relaxed.',
        'Took {activity} to clear my head.',
        'Just an ordinary day.',
        'Got through my to-do list one thing at a time.',
        'Had {food} for dinner.',
      ),
    ],
    positive: [
      pool(
        'I felt really good today.',
        'It made me happy all day.',
        'Small thing, but I am proud of it.',
        'Laughed more than I have in weeks.',
        'I feel grateful for the people around me.',
        'It was a good day.',
        'Felt calm and content in the evening.',
        'Dinner was {food} and it was delicious.',
      ),
    ],
    negative: [
      pool(
        'I felt down most of the day.',
        'It still bothers me.',
        'I was tired and did not want to do anything.',
        'Felt lonely tonight.',
        'I snapped at someone for no reason and regret it.',
        'Everything felt like a chore.',
        'Kind of a disappointing day.',
        'I cried a little on the way home.',
      ),
    ],
    anxious: [
      pool(
        'I cannot stop worrying about it.',
        'My mind keeps racing and I cannot sleep.',
        'I feel anxious and restless.',
        'What if it all goes wrong?',
        'I was too nervous to eat.',
        'I keep checking my phone.',
      ),
    ],
    high_positive: [
      pool(
        'I am so incredibly happy right now!',
        'Best day of my life!',
        'I literally screamed with joy!',
        'I am so proud of myself I could cry!',
        'I feel on top of the world!',
        'Still cannot believe I did it!',
      ),
      pool(
        'I was completely in the zone for hours.',
        'Totally lost track of time, it felt amazing.',
        'Everything just clicked and I felt unstoppable!',
      ),
    ],
    high_negative: [
      pool(
        'I am so furious I am shaking.',
        'I was absolutely livid.',
        'I have never been this angry.',
        'I screamed into my pillow.',
      ),
      pool(
        'Everything feels hopeless.',
        'I feel completely crushed.',
        'I cried for hours.',
        'It feels like everything is falling apart.',
      ),
      pool(
        'I am completely exhausted.',
        'I am so burned out I can barely move.',
        'I am so tired I could die.',
        'Running on empty for days now.',
      ),
    ],
    self_harm: [
      pool(
        'I feel so empty.',
        'Everything feels pointless.',
        'It all feels like my fault.',
        'Nobody really understands.',
        'I am just getting through the days.',
      ),
    ],
  },
  close: {
    calm: pool(
      'Early night tonight.',
      'Tomorrow is another day.',
      'That was the day.',
      'Going to sleep now.',
    ),
    positive: pool(
      'Hope tomorrow is like today.',
      'A good day.',
      'Grateful for today.',
      'Going to bed happy.',
    ),
    negative: pool('Hope tomorrow is better.', 'Going to sleep and forget it.', 'Some days are like this.'),
    anxious: pool('I did what I could.', 'Trying to breathe and sleep.', 'Fingers crossed for tomorrow.'),
    high_positive: pool('Best day ever!', 'I will never forget today!', 'So so happy!'),
    high_negative: pool('Worst day in a long time.', 'I do not know how much longer I can take this.'),
    self_harm: pool(
      'Maybe I should tell my counselor.',
      'That is all for today.',
      'I wish I could talk to someone about this.',
    ),
  },
  badStart: pool(
    'The morning was a mess, I missed the bus.',
    'Woke up with a headache and felt awful.',
    'Got soaked in the rain on the way in.',
  ),
  toGood: ['But ', 'Luckily ', ''],
  goodStart: pool('The morning was lovely.', 'Started the day in a good mood.'),
  toBad: ['Then ', 'But ', 'Later '],
  recovery: pool('Talking to {person} helped a little.', 'A hot shower made it a bit better.'),
  detail: pool(
    'Stopped by {place} on the way home.',
    'Watched {media} in the evening.',
    'Did some laundry.',
    'Walked over ten thousand steps.',
    'Called {person} for a bit.',
    'Had {drink} in the afternoon.',
    'Cleaned the kitchen.',
    'Read a few pages on the subway.',
    'Ordered {food} for dinner.',
  ),
  heavyDetail: pool(
    'Skipped dinner.',
    'Kept the curtains closed all day.',
    'Ignored my messages.',
    'Stayed in bed.',
  ),
  heavyOpen: pool(
    'Did not leave my room again today.',
    'I have not been sleeping well.',
    'Another day went by.',
    'I did not want to talk to anyone.',
  ),
  ideation: pool(
    'I just want to disappear.',
    'Sometimes I wish I did not exist.',
    'I keep thinking everyone would be better off without me.',
    'I do not want to be here anymore.',
    'Part of me wishes I could sleep and never wake up.',
    'Some nights I wish I was dead.',
  ),
  titles: {
    calm: pool('Quiet day', 'Ordinary day', 'Notes'),
    positive: pool('A good day', 'Sunny', 'Small wins'),
    negative: pool('Ugh', 'Rough day', 'Grey'),
    anxious: pool('Worried', 'Cannot sleep'),
    high_positive: pool('I did it!!', 'Best day ever', 'Finally!!'),
    high_negative: pool('Worst day', 'Done', 'Breaking point'),
    self_harm: pool('...', 'Heavy', 'Tonight'),
  },
  commonTitles: pool('Day {n}', 'Today', 'Journal', '{food} night'),
  capitalize: true,
};

// ---------------------------------------------------------------------------------------------
// Composition

const MAX_SENTENCES = 7;
const PARAGRAPH_BREAK_CHANCE = 0.12;

class Writer {
  private readonly values: Record<string, string> = {};
  private readonly rng: Rng;
  private readonly bank: Bank;
  private readonly topic: Topic;
  private readonly day: string;

  constructor(rng: Rng, bank: Bank, topic: Topic, dayIndex: number) {
    this.rng = rng;
    this.bank = bank;
    this.topic = topic;
    this.day = String(Math.max(0, Math.floor(dayIndex)) + 1);
  }

  private value(slot: string): string {
    const known = this.values[slot];
    if (known !== undefined) return known;
    let chosen: string;
    if (slot === 'n') chosen = this.day;
    else {
      const words = this.topic.slots[slot] ?? this.bank.slots[slot];
      chosen = words === undefined ? slot : this.rng.pick(words);
    }
    this.values[slot] = chosen;
    return chosen;
  }

  render(template: Template): string {
    let out = '';
    for (const part of template) {
      if (typeof part === 'string') {
        out += part;
      } else {
        // `{food}{food|을}`: the bare slot writes the word, the marked one only its particle
        const v = this.value(part.slot);
        out += part.josa === null ? v : josa(v, part.josa);
      }
    }
    return out;
  }

  from(p: Pool): string {
    return this.render(this.rng.pick(p));
  }
}

const BANKS: Readonly<Record<DiaryLanguage, Bank>> = { ko: KO, en: EN };

/** Picks `count` distinct templates from a pool (fewer if the pool is smaller). */
function distinct(w: Writer, rng: Rng, p: Pool, count: number): string[] {
  const out: string[] = [];
  if (p.length === 0) return out;
  const start = rng.int(p.length);
  // a random start and a stride coprime-ish with the pool size: distinct picks without a shuffle
  const stride = 1 + rng.int(Math.max(1, p.length - 1));
  const seen = new Set<number>();
  let idx = start;
  for (let i = 0; i < p.length && out.length < count; i++) {
    if (!seen.has(idx)) {
      seen.add(idx);
      out.push(w.render(p[idx] as Template));
    }
    idx = (idx + stride) % p.length;
  }
  if (out.length < count) {
    for (let i = 0; i < p.length && out.length < count; i++) {
      if (!seen.has(i)) {
        seen.add(i);
        out.push(w.render(p[i] as Template));
      }
    }
  }
  return out;
}

/** "그래도 " + sentence; in English "But " + "got soaked…" keeps "I" capitalised. */
function turn(bank: Bank, word: string, sentence: string): string {
  if (!bank.capitalize || word === '' || /^I\b/.test(sentence)) return word + sentence;
  return word + sentence.charAt(0).toLowerCase() + sentence.slice(1);
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** An entry's sentences; `head` leading ones stay together (a turn like "그래도 …"), `tail` closing ones stay last. */
interface Composition {
  readonly s: string[];
  head: number;
  tail: number;
}

function sentencesFor(mood: MoodKind, w: Writer, rng: Rng, bank: Bank, topic: Topic): Composition {
  const s: string[] = [];
  const c: Composition = { s, head: 1, tail: 0 };
  const close = (p: number, pool: Pool): void => {
    if (rng.chance(p)) {
      s.push(w.from(pool));
      c.tail = 1;
    }
  };
  const feelPool = rng.pick(bank.feel[mood]);
  switch (mood) {
    case 'calm': {
      if (rng.chance(0.45)) s.push(w.from(bank.openings));
      s.push(...distinct(w, rng, topic.neutral, 1 + rng.int(2)));
      s.push(...distinct(w, rng, feelPool, rng.int(3)));
      close(0.6, bank.close.calm);
      break;
    }
    case 'positive': {
      if (rng.chance(0.25)) {
        s.push(w.from(bank.badStart));
        s.push(turn(bank, rng.pick(bank.toGood), w.from(topic.pos)));
        c.head = 2;
      } else {
        if (rng.chance(0.4)) s.push(w.from(bank.openings));
        if (rng.chance(0.5)) s.push(w.from(topic.neutral));
        s.push(w.from(topic.pos));
      }
      s.push(...distinct(w, rng, feelPool, 1 + rng.int(2)));
      close(0.6, bank.close.positive);
      break;
    }
    case 'negative': {
      if (rng.chance(0.18)) {
        s.push(w.from(bank.goodStart));
        s.push(turn(bank, rng.pick(bank.toBad), w.from(topic.neg)));
        c.head = 2;
      } else {
        if (rng.chance(0.35)) s.push(w.from(bank.openings));
        if (rng.chance(0.4)) s.push(w.from(topic.neutral));
        s.push(w.from(topic.neg));
      }
      s.push(...distinct(w, rng, feelPool, 1 + rng.int(2)));
      if (rng.chance(0.25)) s.push(w.from(bank.recovery));
      close(0.5, bank.close.negative);
      break;
    }
    case 'anxious': {
      if (rng.chance(0.3)) s.push(w.from(bank.openings));
      if (rng.chance(0.3)) s.push(w.from(topic.neutral));
      s.push(w.from(topic.anx));
      s.push(...distinct(w, rng, feelPool, 1 + rng.int(2)));
      close(0.6, bank.close.anxious);
      break;
    }
    case 'high_positive': {
      if (rng.chance(0.3)) s.push(w.from(bank.openings));
      s.push(w.from(topic.hp));
      s.push(...distinct(w, rng, feelPool, 2 + rng.int(2)));
      close(0.7, bank.close.high_positive);
      break;
    }
    case 'high_negative': {
      if (rng.chance(0.25)) s.push(w.from(bank.openings));
      s.push(w.from(topic.hn));
      s.push(...distinct(w, rng, feelPool, 2 + rng.int(2)));
      close(0.6, bank.close.high_negative);
      break;
    }
    case 'self_harm': {
      if (rng.chance(0.7)) s.push(w.from(bank.heavyOpen));
      s.push(...distinct(w, rng, feelPool, 1 + rng.int(2)));
      s.push(w.from(bank.ideation));
      close(0.6, bank.close.self_harm);
      break;
    }
  }
  return c;
}

/** How many everyday details an entry gets (uniform pick): entries run 2–7 sentences, mostly 4–6. */
const DETAIL_COUNTS = [0, 1, 1, 2, 2, 3] as const;

/** Weaves everyday details between the opening and the closing, never past MAX_SENTENCES. */
function addDetails(c: Composition, w: Writer, rng: Rng, p: Pool): void {
  const extra = Math.min(rng.pick(DETAIL_COUNTS), MAX_SENTENCES - c.s.length);
  if (extra <= 0) return;
  for (const detail of distinct(w, rng, p, extra)) {
    const head = Math.min(c.head, c.s.length);
    const slots = c.s.length - head - c.tail + 1;
    c.s.splice(head + rng.int(Math.max(1, slots)), 0, detail);
  }
}

/**
 * One synthetic diary entry. Deterministic for a given Rng state: the seed command threads one Rng
 * through every user and day so the whole data set is reproducible from `--seed`.
 */
export function generateDiary(rng: Rng, ctx: DiaryContext): GeneratedDiary {
  const mood = ctx.mood ?? drawMood(rng);
  const lang = ctx.lang ?? (rng.chance(KOREAN_SHARE) ? 'ko' : 'en');
  const bank = BANKS[lang];
  const topic = rng.pick(bank.topics);
  const w = new Writer(rng, bank, topic, ctx.dayIndex);

  const composition = sentencesFor(mood, w, rng, bank, topic);
  addDetails(composition, w, rng, mood === 'self_harm' ? bank.heavyDetail : bank.detail);
  let sentences = composition.s;
  if (sentences.length > MAX_SENTENCES) {
    // keep the mood-bearing tail (feelings, ideation, closing); drop from the front
    sentences = sentences.slice(sentences.length - MAX_SENTENCES);
  }
  if (sentences.length < 2) sentences.push(w.from(bank.close[mood]));

  if (bank.capitalize) sentences = sentences.map(capitalize);
  let body = sentences[0] as string;
  for (let i = 1; i < sentences.length; i++) {
    body += (rng.chance(PARAGRAPH_BREAK_CHANCE) ? '\n' : ' ') + sentences[i];
  }

  let title: string | null = null;
  if (rng.chance(TITLE_SHARE)) {
    title = rng.chance(0.55) ? w.from(bank.titles[mood]) : w.from(bank.commonTitles);
    if (bank.capitalize) title = capitalize(title);
  }
  return { title, body, mood };
}
