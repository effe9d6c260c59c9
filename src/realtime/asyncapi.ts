import { CloseCode } from './close-codes.js'
import { clientFrames, ServerFrames } from './protocol.js'
import type { MessageLimits } from '../domain/messages.js'
import { Attachment, Conversation, LinkAttachment, Message, UploadReference } from '../schemas/conversations.js'

/** Drops TypeBox's $id and points bare refs at the document's components. */
function portable (schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema, (key, value) => {
    if (key === '$id') return undefined
    if (key === '$ref' && typeof value === 'string' && !value.startsWith('#')) return `#/components/schemas/${value}`
    return value
  }))
}

/**
 * The AsyncAPI 3.0 document of the websocket protocol, built from the very
 * TypeBox schemas the server validates frames with, so the two cannot drift.
 */
export function buildAsyncApi (version: string, limits: MessageLimits): Record<string, unknown> {
  const messages: Record<string, unknown> = {}
  const message = (side: 'client' | 'server', type: string, schema: { description?: string }) => {
    messages[`${side}.${type}`] = {
      name: type,
      title: `${type} (${side === 'client' ? 'client → server' : 'server → client'})`,
      summary: schema.description,
      contentType: 'application/json',
      payload: portable(schema)
    }
  }
  for (const [type, schema] of Object.entries(clientFrames(limits))) message('client', type, schema)
  for (const [type, schema] of Object.entries(ServerFrames)) message('server', type, schema)
  const refs = (side: string) => Object.keys(messages).filter((k) => k.startsWith(`${side}.`)).map((k) => ({ $ref: `#/channels/live/messages/${k}` }))

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat backend live protocol',
      version,
      description: `One websocket per client. Every frame is JSON text \`{type, ...}\`. A missing or bad token is refused before the upgrade with HTTP 401; when the token expires on an open socket, or its session ends (logout, a reused refresh token, a bot revoked), the server closes it with ${CloseCode.TOKEN_EXPIRED}. A socket with too many frames not yet handled is not read until they are. On shutdown sockets are closed with ${CloseCode.SERVICE_RESTART} (reconnect to another node), a client that stops reading is closed with ${CloseCode.TRY_AGAIN_LATER}, one that keeps flooding with ${CloseCode.POLICY_VIOLATION}, and frames over the payload limit close the socket with ${CloseCode.MESSAGE_TOO_BIG}. The server pings every socket on an interval and closes those that stop answering.`
    },
    servers: {
      local: {
        host: 'localhost:3000',
        protocol: 'ws',
        description: 'npm start on the embedded defaults; use wss behind TLS in production',
        security: [{ $ref: '#/components/securitySchemes/queryToken' }, { $ref: '#/components/securitySchemes/bearer' }]
      }
    },
    channels: {
      live: {
        address: '/v1/ws',
        title: 'The live connection',
        description: 'Client frames and server frames travel on the one socket.',
        messages: Object.fromEntries(Object.keys(messages).map((k) => [k, { $ref: `#/components/messages/${k}` }]))
      }
    },
    operations: {
      sendFrames: {
        action: 'send',
        channel: { $ref: '#/channels/live' },
        summary: 'Frames a client sends',
        messages: refs('client')
      },
      receiveFrames: {
        action: 'receive',
        channel: { $ref: '#/channels/live' },
        summary: 'Frames a client receives',
        messages: refs('server')
      }
    },
    components: {
      securitySchemes: {
        queryToken: { type: 'httpApiKey', name: 'token', in: 'query', description: 'the access token from /v1/auth/login, or a bot\'s API key (cbk_…)' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'the access token (or a bot\'s API key) in an Authorization header' }
      },
      schemas: {
        Message: portable(Message),
        Conversation: portable(Conversation),
        Attachment: portable(Attachment),
        LinkAttachment: portable(LinkAttachment),
        UploadReference: portable(UploadReference)
      },
      messages
    }
  }
}
