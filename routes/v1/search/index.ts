import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Id, responses } from '../../../src/schemas/common.js'
import { MessageRef } from '../../../src/schemas/conversations.js'
import { MAX_QUERY_WORDS } from '../../../src/domain/search.js'
import { SEARCH_MAX_CONVERSATIONS, SEARCH_MAX_SCAN } from '../../../src/services/messages.js'

const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 500, description: `words (each must be a whole word of the message, whatever its case or accents; at most ${MAX_QUERY_WORDS}), "exact phrases", from:username, before:YYYY-MM-DD, after:YYYY-MM-DD, has:attachment`, examples: ['"release notes" from:ana after:2026-11-01'] }),
  conversationId: Type.Optional(Id),
  limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the page before' }))
})

const SearchPage = Type.Object({
  items: Type.Array(Type.Object({
    message: MessageRef,
    conversation: Type.Object({ id: Id, type: Type.Union([Type.Literal('direct'), Type.Literal('group')]), name: Type.Optional(Type.String()) })
  })),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' })
}, { title: 'SearchPage' })

/** Protected: message search across the caller's conversations. */
const search: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/messages', {
    schema: {
      tags: ['search'],
      operationId: 'searchMessages',
      summary: 'Search my messages',
      description: `Messages of the conversations I am in now (or of \`conversationId\`), newest first. Every word must match a whole word of the message, whatever its case or accents; Chinese and Japanese are split into their words. A deleted message is never found, an edited one only by its new text. A query of operators alone is allowed; an empty one, or one with nothing to search by, is 400. A page looks at most ${SEARCH_MAX_SCAN} candidates (a page cut short has fewer items and a \`nextCursor\`) in the ${SEARCH_MAX_CONVERSATIONS} most recently active of my conversations.`,
      querystring: SearchQuery,
      response: responses({ 200: SearchPage }, 403, 404)
    }
  }, async (request) => app.services.messages.search(request.userId, request.query))
}

export default search
