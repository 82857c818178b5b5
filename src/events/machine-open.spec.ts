import { isMachineOpen, MACHINE_OPEN_WINDOW_MS } from './machine-open';

const SENT = new Date('2026-12-07T10:00:00Z');
const after = (ms: number) => new Date(SENT.getTime() + ms);

describe('isMachineOpen', () => {
  it.each([
    ['Apple Mail Privacy Protection', 'Mozilla/5.0'],
    ['Gmail image proxy', 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'],
    ['Yahoo mail proxy', 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html'],
  ])('%s within the window is a machine open', (_name, agent) => {
    expect(isMachineOpen(agent, SENT, after(5_000))).toBe(true);
    expect(isMachineOpen(agent, SENT, after(MACHINE_OPEN_WINDOW_MS))).toBe(true);
  });

  it('a proxy fetch after the window may be a reader opening the message', () => {
    expect(isMachineOpen('Mozilla/5.0', SENT, after(MACHINE_OPEN_WINDOW_MS + 1))).toBe(false);
  });

  it.each([
    ['a browser', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148'],
    ['Outlook', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)'],
    ['no user agent', undefined],
    ['an empty one', ''],
  ])('%s right after the send is a person', (_name, agent) => {
    expect(isMachineOpen(agent, SENT, after(1_000))).toBe(false);
  });
});
