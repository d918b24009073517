// A person signing in on a user pool's hosted page, in Debian's Chromium driven by
// playwright-core. The app's callback is intercepted (its host does not exist) and its URL
// printed as `callback URL`; a browser that ends elsewhere prints `page TEXT`.
//
//   node sign_in.mjs AUTHORIZE_URL CALLBACK_PREFIX USERNAME PASSWORDS [TOTP_CODE]
//
// PASSWORDS is a comma-separated list, tried in turn on the page the pool answers with (so a
// wrong one then the right one is a person retrying). With $PROVIDER set, the person instead
// follows "Sign in with $PROVIDER" (when the page offers it) and signs in at that OpenID provider (oidc-provider's
// development login: any name), then agrees to share.
import { chromium } from 'playwright-core';

const [authorizeUrl, callbackPrefix, username, passwords, totp] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors'],
});
const submit = async (page) => {
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  await page.waitForTimeout(200);
};
try {
  const page = await browser.newPage();
  let callback = null;
  await page.route(`${callbackPrefix}**`, (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' });
  });
  await page.goto(authorizeUrl);
  if (process.env.PROVIDER) {
    // From the pool's page; an authorization naming the provider starts at the provider.
    const link = page.locator(`a.idp:has-text("${process.env.PROVIDER}")`);
    if ((await link.count()) > 0) await Promise.all([page.waitForLoadState('load'), link.click()]);
    for (let step = 0; step < 5 && !callback; step++) {
      if ((await page.locator('input[name=login]').count()) > 0) {
        await page.fill('input[name=login]', username);
        await page.fill('input[name=password]', 'anything');
      }
      if ((await page.locator('button[type=submit]').count()) === 0) break;
      await submit(page);
    }
  } else {
    for (const password of passwords.split(',')) {
      if (callback || (await page.locator('input[name=password]').count()) === 0) break;
      await page.fill('input[name=username]', username);
      await page.fill('input[name=password]', password);
      await submit(page);
    }
    if (!callback && totp && (await page.locator('input[name=code]').count()) > 0) {
      await page.fill('input[name=code]', totp);
      await submit(page);
    }
  }
  for (let i = 0; i < 50 && !callback; i++) await page.waitForTimeout(100);
  console.log(callback ? `callback ${callback}` : `page ${(await page.textContent('body')).replace(/\s+/g, ' ').trim()}`);
} finally {
  await browser.close();
}
