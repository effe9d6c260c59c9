import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Id, responses } from '../../../src/schemas/common.js'
import { ID_HEX } from '../../../src/domain/ids.js'

const Query = Type.Object({
  userIds: Type.String({ pattern: `^${ID_HEX}(,${ID_HEX}){0,99}$`, description: 'up to 100 comma-separated user ids' })
}, { additionalProperties: false })

const PresenceList = Type.Object({
  items: Type.Array(Type.Object({
    userId: Id,
    status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    lastSeen: Type.String({ format: 'date-time' })
  }))
}, { title: 'PresenceList' })

/** Protected: who is online now (on any node), of the users who share a conversation with me; others are left out. */
const presence: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    schema: {
      tags: ['users'],
      operationId: 'getPresence',
      summary: 'Presence of users',
      description: 'Online when the user has a live websocket on any node. lastSeen is when they were last online. Only users who share a conversation with me (and I) are answered; others, and unknown ids, are left out.',
      querystring: Query,
      response: responses({ 200: PresenceList })
    }
  }, async (request) => {
    const asked = [...new Set(request.query.userIds.split(','))]
    const ids = await app.services.users.sharingAConversation(request.userId, asked)
    const [online, users] = await Promise.all([app.presence.online(ids), app.store.users.findByIds(ids)])
    const now = new Date().toISOString()
    return {
      items: ids.flatMap((id) => {
        const user = users.find((u) => u.id === id)
        if (user === undefined) return []
        const isOnline = online.has(id)
        return [{ userId: id, status: isOnline ? 'online' as const : 'offline' as const, lastSeen: isOnline ? now : user.lastSeen.toISOString() }]
      })
    }
  })
}

export default presence
