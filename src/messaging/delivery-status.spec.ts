import {
  ATTEMPT_CHANGE,
  DeliveryStatus,
  mermaidStateDiagram,
  nextStatus,
  sqlAllowedFrom,
  StatusChange,
  TRANSITIONS,
} from './delivery-status';

const { Queued, Sending, Unknown, Sent, Delivered, Failed, Opened, Clicked, Booked, Unsubscribed } = DeliveryStatus;
const CHANGES = [
  StatusChange.Send,
  StatusChange.Sent,
  StatusChange.Fail,
  StatusChange.Retry,
  StatusChange.Lose,
  StatusChange.Abandon,
  StatusChange.Open,
  StatusChange.Click,
  StatusChange.Book,
  StatusChange.Unsubscribe,
] as const;
const _ = null; // refused: the status stays

/** Where each change takes a message in each status, written out by hand: the rules the service has always had. */
const EXPECTED: Record<DeliveryStatus, (DeliveryStatus | null)[]> = {
  //             send     sent  fail    retry   lose     abandon open    click    book    unsubscribe
  [Queued]:     [Sending, _,    _,      _,      _,       Failed, Opened, Clicked, Booked, Unsubscribed],
  [Sending]:    [_,       Sent, Failed, Queued, Unknown, _,      Opened, Clicked, Booked, Unsubscribed],
  [Unknown]:    [_,       Sent, Failed, _,      _,       _,      Opened, Clicked, Booked, Unsubscribed],
  [Sent]:       [_,       _,    _,      _,      _,       _,      Opened, Clicked, Booked, Unsubscribed],
  [Delivered]:  [_,       _,    _,      _,      _,       _,      Opened, Clicked, Booked, Unsubscribed],
  [Opened]:     [_,       _,    _,      _,      _,       _,      _,      Clicked, Booked, Unsubscribed],
  [Clicked]:    [_,       _,    _,      _,      _,       _,      _,      _,       Booked, Unsubscribed],
  [Booked]:     [_,       _,    _,      _,      _,       _,      _,      _,       _,      Unsubscribed],
  [Failed]:     [_,       _,    _,      _,      _,       _,      _,      _,       _,      _],
  [Unsubscribed]: [_,     _,    _,      _,      _,       _,      _,      _,       _,      _],
};

const CASES = Object.values(DeliveryStatus).flatMap((from) =>
  CHANGES.map((change, column) => ({ from, change, to: EXPECTED[from][column] })),
);

describe('delivery status transitions', () => {
  it('the table covers every status and every change', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.values(DeliveryStatus).sort());
    expect([...CHANGES].sort()).toEqual(Object.values(StatusChange).sort());
    expect(CASES).toHaveLength(100);
  });

  it.each(CASES.filter((c) => c.to !== null))('$from --$change--> $to', ({ from, change, to }) => {
    expect(nextStatus(from, change)).toBe(to);
  });

  it.each(CASES.filter((c) => c.to === null))('$from refuses $change', ({ from, change }) => {
    expect(nextStatus(from, change)).toBeNull();
  });

  it('an attempt record stands for the change that moves a row to the recorded status', () => {
    for (const [status, change] of Object.entries(ATTEMPT_CHANGE)) {
      expect(TRANSITIONS.find((t) => t.change === change)?.to).toBe(status);
    }
    expect(Object.keys(ATTEMPT_CHANGE).sort()).toEqual([Failed, Queued, Sent, Unknown].sort());
  });

  it('gives the SQL from-list of a change', () => {
    expect(sqlAllowedFrom(StatusChange.Sent, 'm.delivery_status')).toBe("m.delivery_status IN ('sending', 'unknown')");
    expect(sqlAllowedFrom(StatusChange.Abandon)).toBe("delivery_status IN ('queued')");
  });

  it('draws one arrow per allowed move, and the claim into queued', () => {
    const arrows = mermaidStateDiagram().split('\n').filter((line) => line.includes('-->'));
    const allowed = CASES.filter((c) => c.to !== null).map(({ from, change, to }) => `    ${from} --> ${to}: ${change}`);
    expect(arrows.sort()).toEqual([...allowed, '    [*] --> queued: claim'].sort());
  });
});
