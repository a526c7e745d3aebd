/**
 * What billing tells a user, in natural Korean, through the notifications module. Every message
 * says how to cancel (전자상거래법: cancelling must never be hidden) and amounts are VAT-inclusive KRW.
 */
import type { UserMessage } from '../notifications/index.ts';
import { seoulTime } from '../time/calendar.ts';

export const CANCEL_HOW = '해지는 앱의 [설정 > 구독 관리]에서 언제든 할 수 있어요.';

export function won(amount: number): string {
  return `${amount.toLocaleString('ko-KR')}원`;
}

export function koreanDate(at: Date): string {
  const t = seoulTime(at);
  return `${t.month}월 ${t.day}일`;
}

export const billingMessages = {
  renewalNotice(plan: string, amount: number, due: Date): UserMessage {
    return {
      title: '정기결제 예정 안내',
      body: `${koreanDate(due)}에 ${plan} 이용료 ${won(amount)}(부가세 포함)이 등록된 카드로 결제될 예정이에요. ${CANCEL_HOW}`,
    };
  },
  trialConversionNotice(plan: string, amount: number, due: Date): UserMessage {
    return {
      title: '무료 체험 종료 안내',
      body: `무료 체험이 ${koreanDate(due)}에 끝나요. 유료 전환에 동의하시면 그날부터 ${plan} 이용료 ${won(amount)}(부가세 포함)이 매 기간 결제돼요. 동의하지 않으면 결제 없이 체험 종료와 함께 구독이 끝나요. ${CANCEL_HOW}`,
    };
  },
  priceIncreaseNotice(plan: string, from: number, to: number, due: Date): UserMessage {
    return {
      title: '이용료 변경 동의 요청',
      body: `${plan} 이용료가 ${won(from)}에서 ${won(to)}으로 바뀌어요. 동의하시기 전까지는 ${koreanDate(due)} 결제를 포함해 지금까지의 금액(${won(from)})만 결제돼요. ${CANCEL_HOW}`,
    };
  },
  paymentFailed(amount: number, retryAt: Date, graceUntil: Date): UserMessage {
    return {
      title: '정기결제에 실패했어요',
      body: `${won(amount)} 결제가 카드사에서 승인되지 않았어요. ${koreanDate(retryAt)}에 다시 시도할게요. ${koreanDate(graceUntil)}까지는 지금처럼 모든 기능을 쓸 수 있어요. 카드를 바꾸시려면 앱의 [설정 > 결제 수단]을 열어 주세요.`,
    };
  },
  cardRequired(graceUntil: Date): UserMessage {
    return {
      title: '결제 카드를 바꿔 주세요',
      body: `등록된 카드로는 더 이상 결제할 수 없어요(정지·분실·만료 등). ${koreanDate(graceUntil)}까지 앱의 [설정 > 결제 수단]에서 새 카드를 등록해 주시면 구독이 이어져요. 그때까지는 지금처럼 모든 기능을 쓸 수 있어요.`,
    };
  },
  canceledAfterDunning(): UserMessage {
    return {
      title: '구독이 해지되었어요',
      body: '여러 번 결제를 시도했지만 승인되지 않아 구독이 해지되었어요. 작성하신 일기는 그대로 남아 있고, 언제든 다시 구독할 수 있어요.',
    };
  },
  trialEnded(reason: 'no_card' | 'no_consent'): UserMessage {
    return {
      title: '무료 체험이 끝났어요',
      body:
        reason === 'no_card'
          ? '등록된 카드가 없어 결제 없이 무료 체험이 끝났어요. 작성하신 일기는 그대로 남아 있고, 언제든 구독할 수 있어요.'
          : '유료 전환 동의가 없어 결제 없이 무료 체험이 끝났어요. 작성하신 일기는 그대로 남아 있고, 언제든 구독할 수 있어요.',
    };
  },
  canceledAtPeriodEnd(): UserMessage {
    return {
      title: '구독이 해지되었어요',
      body: '요청하신 대로 이용 기간이 끝나 구독이 해지되었어요. 더 이상 결제되지 않아요. 작성하신 일기는 그대로 남아 있어요.',
    };
  },
  refunded(amount: number): UserMessage {
    return {
      title: '환불이 처리되었어요',
      body: `${won(amount)}이 환불 처리되었어요. 카드사에 따라 실제 환불까지 3~7영업일이 걸릴 수 있어요.`,
    };
  },
  planChanged(plan: string, charged: number): UserMessage {
    return {
      title: '요금제가 변경되었어요',
      body:
        charged > 0
          ? `${plan}으로 바로 변경되었어요. 남은 기간의 차액 ${won(charged)}이 결제되었어요. ${CANCEL_HOW}`
          : `${plan}으로 바로 변경되었어요. ${CANCEL_HOW}`,
    };
  },
  upgradeNotCharged(plan: string): UserMessage {
    return {
      title: '요금제 변경이 완료되지 않았어요',
      body: `${plan}으로의 변경 차액이 결제되지 않아 요금제는 그대로예요. 청구된 금액은 없어요. ${CANCEL_HOW}`,
    };
  },
  downgradeScheduled(plan: string, at: Date): UserMessage {
    return {
      title: '요금제 변경이 예약되었어요',
      body: `${koreanDate(at)} 결제부터 ${plan}으로 바뀌어요. 그때까지는 지금 요금제를 그대로 쓸 수 있어요. ${CANCEL_HOW}`,
    };
  },
};
