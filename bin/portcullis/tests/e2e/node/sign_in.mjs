// A person signing in on a user pool's hosted page, in Debian's Chromium driven by
// playwright-core: open the authorization URL, type the name and password, submit, and, when
// the pool asks, type a TOTP code. The app's callback is intercepted (its host does not exist)
// and its full URL printed as `callback URL`; a page that does not lead there is printed as
// `page TEXT`.
//
//   node sign_in.mjs AUTHORIZE_URL CALLBACK_PREFIX USERNAME PASSWORD [TOTP_CODE]
import { chromium } from 'playwright-core';

const [authorizeUrl, callbackPrefix, username, password, totp] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors'],
});
try {
  const page = await browser.newPage();
  let callback = null;
  await page.route(`${callbackPrefix}**`, (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' });
  });
  await page.goto(authorizeUrl);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  if (!callback && totp && (await page.locator('input[name=code]').count()) > 0) {
    await page.fill('input[name=code]', totp);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  }
  for (let i = 0; i < 50 && !callback; i++) await page.waitForTimeout(100);
  console.log(callback ? `callback ${callback}` : `page ${(await page.textContent('body')).replace(/\s+/g, ' ').trim()}`);
} finally {
  await browser.close();
}
