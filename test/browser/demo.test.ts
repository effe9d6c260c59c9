/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The demo web client in a real browser (Debian's chromium, driven by
 * playwright-core): two people register, chat, see typing, presence and read
 * ticks; one goes offline, misses messages and gets them in order, once, when
 * back; markup in a message stays text. Screenshots go to docs/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import sharp from 'sharp'
import { buildTestApp } from '../helper.js'
import { FAST_ENV } from '../realtime/nodes.js'
import { root } from '../../scripts/services.mjs'
import { markSuiteRan } from '../services.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SHOTS = join(root, 'docs', 'screenshots')
// The flags the machine's notes give for headless Chromium on a closed network.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

async function signUp (page: Page, base: string, username: string) {
  await page.goto(base)
  await page.click('#tab-register')
  await page.fill('#auth-username', username)
  await page.fill('#auth-email', `${username}@example.test`)
  await page.fill('#auth-password', 'correct horse battery')
  await page.click('#auth-submit')
  await page.waitForSelector('#conn[data-state="open"]')
}

const texts = (page: Page) => page.$$eval('#messages .message:not(.pending) .text', (els) => els.map((el) => el.textContent))

t.test('the demo client in Chromium: chat, typing, presence, read ticks, offline and back, text stays text, reactions, pins, replies, mentions, threads, attachments, bots, search', async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') t.fail(`${CHROMIUM} is missing (apt-get install chromium)`)
    else void t.test('browser suite', { skip: `${CHROMIUM} is missing` }, () => {})
    return
  }
  markSuiteRan(t, 'browser')
  if (!existsSync(join(root, 'web', 'dist', 'app.js'))) t.fail('web/dist/app.js is missing: npm test builds it (npm run build:web)')
  const built = await buildTestApp(t, { env: { ...FAST_ENV, TYPING_TTL_MS: '5000' } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS })
  t.teardown(() => browser.close())
  mkdirSync(SHOTS, { recursive: true })
  const dialogs: string[] = []
  const [ctxA, ctxB] = [await browser.newContext({ viewport: { width: 1100, height: 700 } }), await browser.newContext({ viewport: { width: 1100, height: 700 } })]
  const [ada, bob] = [await ctxA.newPage(), await ctxB.newPage()]
  for (const page of [ada, bob]) page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss() })
  const errors: string[] = []
  for (const page of [ada, bob]) page.on('pageerror', (err) => errors.push(err.message))

  await signUp(ada, base, 'ada')
  await signUp(bob, base, 'bob')
  t.pass('both registered and connected')

  // Ada starts a direct conversation with Bob and writes.
  await ada.fill('#direct-username', 'bob')
  await ada.click('#new-direct button')
  await ada.waitForSelector('#composer:not([hidden])')
  await ada.waitForSelector('#conversations .conversation .dot.online')
  t.pass('Ada sees Bob online')
  await ada.fill('#composer-input', 'hello Bob')
  await ada.press('#composer-input', 'Enter')
  await ada.waitForFunction(() => document.querySelector('#messages .message.mine .ticks') !== null)

  // Bob's list shows the new conversation, unread, with its last message.
  await bob.waitForSelector('#conversations .conversation .badge:not(.mention):not([hidden])')
  t.equal(await bob.textContent('#conversations .conversation .badge:not(.mention)'), '1', 'one unread')
  t.equal(await bob.textContent('#conversations .conversation .preview'), 'hello Bob', 'the last message in the list')
  await bob.screenshot({ path: join(SHOTS, 'conversation-list.png') })
  await bob.click('#conversations .conversation')
  await bob.waitForFunction(() => document.querySelector('#messages .message .text')?.textContent === 'hello Bob')
  t.pass('Bob reads it')
  await ada.waitForSelector('#messages .message.mine .ticks.read')
  t.match(await ada.textContent('#messages .message.mine .ticks'), /read/, 'Ada sees the read tick')

  // Typing, both ways of seeing it.
  await bob.type('#composer-input', 'hi Ada')
  await ada.waitForFunction(() => document.querySelector('#typing')?.textContent?.includes('bob is typing') === true)
  t.pass('Ada sees Bob typing')
  await bob.press('#composer-input', 'Enter')
  await ada.waitForFunction(() => [...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'hi Ada'))
  await ada.waitForFunction(() => document.querySelector('#typing')?.textContent === '')
  t.pass('the reply arrives and the typing indicator ends')
  await ada.screenshot({ path: join(SHOTS, 'chat.png') })

  // Bob goes offline; Ada writes three messages; Bob comes back and has them in order, once.
  await ctxB.setOffline(true)
  await bob.waitForSelector('#conn[data-state="suspended"]')
  await bob.screenshot({ path: join(SHOTS, 'reconnecting.png') })
  t.pass('Bob sees that he is offline, waiting for the network')
  for (const n of [1, 2, 3]) {
    await ada.fill('#composer-input', `while you were away ${n}`)
    await ada.press('#composer-input', 'Enter')
  }
  await ada.waitForFunction(() => document.querySelectorAll('#messages .message.mine:not(.pending)').length === 4)
  await ctxB.setOffline(false)
  await bob.waitForSelector('#conn[data-state="open"]')
  await bob.waitForFunction(() => [...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'while you were away 3'))
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(await texts(bob), ['hello Bob', 'hi Ada', 'while you were away 1', 'while you were away 2', 'while you were away 3'], 'every missed message, in order, once')

  // Markup is text.
  const xss = '<img src=x onerror=alert(1)>'
  await ada.fill('#composer-input', xss)
  await ada.press('#composer-input', 'Enter')
  await bob.waitForFunction((s) => [...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === s), xss)
  t.equal(await bob.$$eval('#messages img', (els) => els.length), 0, 'no img element was made')
  t.equal(await bob.$$eval('#conversations img', (els) => els.length), 0, 'nor in the conversation list')
  t.same(dialogs, [], 'no script ran')

  // Edit and delete one's own message.
  await ada.locator('#messages .message.mine', { hasText: 'while you were away 2' }).locator('button.delete').click()
  await bob.waitForFunction(() => [...document.querySelectorAll('#messages .message.deleted .text')].some((el) => el.textContent === 'message deleted'))
  t.pass('a deletion reaches the other side')
  await ada.locator('#messages .message.mine', { hasText: 'while you were away 1' }).locator('button.edit').click()
  await ada.fill('#messages .edit-input', 'while you were away (edited)')
  await ada.press('#messages .edit-input', 'Enter')
  await bob.waitForFunction(() => [...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'while you were away (edited)'))
  t.pass('an edit reaches the other side')

  // Reactions from the message menu: Ada reacts, Bob sees it and joins in with a click on the chip, then takes his back.
  const edited = (page: typeof ada) => page.locator('#messages .message').filter({ has: page.locator('.text', { hasText: /^while you were away \(edited\)$/ }) })
  await edited(ada).locator('button.react').click()
  await edited(ada).locator('.picker button.pick', { hasText: '👍' }).click()
  await edited(bob).locator('.reactions .reaction', { hasText: '👍 1' }).waitFor()
  await edited(bob).locator('.reactions .reaction', { hasText: '👍 1' }).click()
  await edited(ada).locator('.reactions .reaction.mine', { hasText: '👍 2' }).waitFor()
  await edited(bob).locator('.reactions .reaction.mine', { hasText: '👍 2' }).click()
  await edited(ada).locator('.reactions .reaction', { hasText: '👍 1' }).waitFor()
  await edited(bob).locator('.reactions .reaction:not(.mine)', { hasText: '👍 1' }).waitFor()
  t.pass('a reaction, added and taken back, shows on both sides')

  // Pins: Ada pins the message from its menu; both see the pinned bar; Bob (a direct conversation: either may) unpins it.
  await edited(ada).locator('button.pin').click()
  await bob.waitForFunction(() => document.querySelector('#pinned:not([hidden]) .pinned-text')?.textContent === 'while you were away (edited)')
  await ada.waitForSelector('#pinned:not([hidden])')
  await edited(bob).locator('button.unpin').click()
  await ada.waitForSelector('#pinned[hidden]', { state: 'attached' })
  await bob.waitForSelector('#pinned[hidden]', { state: 'attached' })
  t.pass('a pin shows in the pinned bar on both sides, and goes when unpinned')

  // A reply from the message menu quotes its original; the quote follows the original's edit.
  await edited(bob).locator('button.reply').click()
  await bob.waitForSelector('#replying:not([hidden])')
  await bob.fill('#composer-input', 'a reply to that')
  await bob.click('#send')
  const replied = (page: typeof ada) => page.locator('#messages .message', { hasText: 'a reply to that' })
  await replied(ada).locator('.quote', { hasText: 'while you were away (edited)' }).waitFor()
  await edited(ada).locator('button.edit').click()
  await ada.fill('#messages .edit-input', 'edited twice')
  await ada.press('#messages .edit-input', 'Enter')
  await replied(bob).locator('.quote', { hasText: 'edited twice' }).waitFor()
  t.pass('a reply shows its quote on both sides, in step with the original')

  // A mention of Bob is highlighted on his side, not on Ada's.
  await ada.fill('#composer-input', '@bob look here')
  await ada.click('#send')
  await bob.locator('#messages .message.mentions-me', { hasText: '@bob look here' }).waitFor()
  await ada.locator('#messages .message.mine:not(.mentions-me):not(.pending)', { hasText: '@bob look here' }).waitFor()
  t.pass('a mention is highlighted for the one mentioned')

  // Bob goes offline again; Ada edits one message and deletes another; back online, Bob shows both changes.
  await ctxB.setOffline(true)
  await bob.waitForSelector('#conn[data-state="suspended"]')
  await ada.locator('#messages .message.mine', { hasText: 'while you were away 3' }).locator('button.edit').click()
  await ada.fill('#messages .edit-input', 'edited while Bob was away')
  await ada.press('#messages .edit-input', 'Enter')
  await ada.waitForFunction(() => [...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'edited while Bob was away'))
  await ada.locator('#messages .message.mine', { hasText: 'hello Bob' }).locator('button.delete').click()
  await ada.waitForFunction(() => ![...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'hello Bob'))
  await ctxB.setOffline(false)
  await bob.waitForSelector('#conn[data-state="open"]')
  await bob.waitForFunction(() => [...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'edited while Bob was away'))
  await bob.waitForFunction(() => ![...document.querySelectorAll('#messages .message .text')].some((el) => el.textContent === 'hello Bob'))
  t.pass('an edit and a deletion made while Bob was offline show once he is back')

  // Files: Ada attaches an image from the file picker and pastes another; Bob sees both thumbnails (loaded, from signed links) and opens one.
  const picture = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#2a6' } }).png().toBuffer()
  await ada.setInputFiles('#attach-input', { name: 'meadow.png', mimeType: 'image/png', buffer: picture })
  await ada.waitForSelector('#uploads .upload.done')
  const pasted = await sharp({ create: { width: 300, height: 500, channels: 3, background: '#a26' } }).png().toBuffer()
  await ada.evaluate((bytes) => {
    const data = new DataTransfer()
    data.items.add(new File([new Uint8Array(bytes)], 'shot.png', { type: 'image/png' }))
    document.querySelector('#composer-input')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
  }, [...pasted])
  await ada.waitForFunction(() => document.querySelectorAll('#uploads .upload.done').length === 2)
  await ada.fill('#composer-input', 'two pictures')
  await ada.click('#send')
  const pictures = bob.locator('#messages .message', { hasText: 'two pictures' })
  await pictures.locator('img.thumb').nth(1).waitFor()
  await bob.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#messages .message img.thumb')].filter((img) => img.complete && img.naturalWidth > 0).length === 2)
  t.same(await pictures.locator('img.thumb').evaluateAll((imgs) => imgs.map((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight])), [[320, 240], [192, 320]], 'both thumbnails loaded, the size the server made them')
  const opened = bob.waitForEvent('popup')
  await pictures.locator('a.image').first().click()
  const full = await opened
  await full.waitForLoadState()
  t.equal(await full.evaluate(() => [(document.images[0]?.naturalWidth ?? 0), (document.images[0]?.naturalHeight ?? 0)].join('x')), '640x480', 'a click opens the image itself')
  await full.close()
  await ada.waitForSelector('#uploads', { state: 'hidden' })
  await bob.screenshot({ path: join(SHOTS, 'attachments.png') })
  t.pass('an image attached and one pasted show as thumbnails on the other side')

  // A mention in a group that Bob does not have open: an @ badge on it in his list, gone once he opens it.
  await ada.fill('#group-name', 'team')
  await ada.fill('#group-members', 'bob')
  await ada.click('#new-group button')
  await ada.waitForFunction(() => document.querySelector('#chat-title')?.textContent === 'team')
  await ada.fill('#composer-input', 'hey @bob, a question for the team')
  await ada.click('#send')
  const group = bob.locator('#conversations .conversation', { hasText: 'team' })
  await group.locator('.badge.mention:not([hidden])').waitFor()
  t.equal(await group.locator('.badge.mention').getAttribute('title'), '1 unread mention', 'an @ badge on the group, one mention')
  await bob.screenshot({ path: join(SHOTS, 'mention-badge.png') })
  await group.click()
  await bob.locator('#messages .message.mentions-me', { hasText: 'a question for the team' }).waitFor()
  t.ok(await group.locator('.badge.mention').isHidden(), 'the badge goes once Bob opens the conversation')

  // A thread: Bob answers in a thread from the message menu; Ada sees the count on the root, not the reply in
  // the timeline, and opens the thread; her reply there reaches Bob's open thread.
  const question = (page: typeof ada) => page.locator('#messages .message', { hasText: 'a question for the team' })
  await question(bob).locator('button.thread').click()
  await bob.waitForSelector('#thread:not([hidden]) #thread-messages .message.root')
  await bob.fill('#thread-input', 'an answer in the thread')
  await bob.click('#thread-send')
  await question(ada).locator('.thread-summary', { hasText: '1 reply' }).waitFor()
  t.equal(await ada.locator('#messages .message', { hasText: 'an answer in the thread' }).count(), 0, 'a reply in a thread stays out of the timeline')
  await question(ada).locator('.thread-summary').click()
  await ada.locator('#thread-messages .message:not(.root)', { hasText: 'an answer in the thread' }).waitFor()
  await ada.fill('#thread-input', 'thanks, noted')
  await ada.click('#thread-send')
  await bob.locator('#thread-messages .message:not(.pending)', { hasText: 'thanks, noted' }).waitFor()
  await question(bob).locator('.thread-summary', { hasText: '2 replies' }).waitFor()
  await bob.waitForFunction(() => document.querySelector('#thread-title')?.textContent === 'Thread · 2 replies')
  t.same(await bob.$$eval('#thread-messages .message:not(.root):not(.pending) .text', (els) => els.map((el) => el.textContent)), ['an answer in the thread', 'thanks, noted'], 'the thread on Bob\'s side: both replies, in order, once')
  t.equal(await ada.textContent('#thread-messages .message.root .text'), 'hey @bob, a question for the team', 'the root heads the thread')
  await bob.screenshot({ path: join(SHOTS, 'thread.png') })

  // A bot: Ada creates one (REST, with her own login), adds it to the group; it writes with its API key alone,
  // and Bob sees its message marked as a bot's.
  const adaLogin = (await app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: '198.18.250.1', payload: { login: 'ada', password: 'correct horse battery' } })).json() as { accessToken: string }
  const asAda = { authorization: `Bearer ${adaLogin.accessToken}` }
  const { bot, apiKey } = (await app.inject({ method: 'POST', url: '/v1/bots', headers: asAda, payload: { username: 'deploybot', name: 'Deploy bot' } })).json() as { bot: { id: string }, apiKey: string }
  const team = ((await app.inject({ method: 'GET', url: '/v1/conversations', headers: asAda })).json() as { items: Array<{ id: string, name?: string }> }).items.find((c) => c.name === 'team')!
  t.equal((await app.inject({ method: 'POST', url: `/v1/conversations/${team.id}/participants`, headers: asAda, payload: { userIds: [bot.id] } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: `/v1/conversations/${team.id}/messages`, headers: { authorization: `Bearer ${apiKey}` }, payload: { content: 'deployed v2 to production' } })).statusCode, 201)
  const fromBot = bob.locator('#messages .message', { hasText: 'deployed v2 to production' })
  await fromBot.locator('.from .bot-tag').waitFor()
  t.equal(await fromBot.locator('.from').textContent(), 'deploybotbot', 'its sender, tagged as a bot')
  t.equal(await fromBot.locator('.from .bot-tag').textContent(), 'bot')
  await bob.screenshot({ path: join(SHOTS, 'bot.png') })

  // Search: Bob looks for a phrase from the direct conversation while the group is open; the hit opens it at the message.
  await bob.fill('#search-input', '"EDITED twice"')
  await bob.press('#search-input', 'Enter')
  await bob.waitForSelector('#search-results:not([hidden]) .hit')
  t.same(await bob.$$eval('#search-results .hit .text', (els) => els.map((el) => el.textContent)), ['edited twice'], 'one hit, any case (the quote of it is not its content)')
  await bob.click('#search-results .hit')
  await bob.waitForSelector('#messages .message.found')
  t.equal(await bob.textContent('#messages .message.found .text'), 'edited twice', 'the conversation opens at the message, marked')
  t.equal(await bob.textContent('#chat-title'), 'ada')
  await bob.screenshot({ path: join(SHOTS, 'search.png') })
  t.same(errors, [], 'no script errors on either page')
})
