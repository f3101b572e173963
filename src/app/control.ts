import { msgpackCodec } from '../serialization/codec.js'
import { toMs } from '../util/duration.js'
import type { ConfigValues } from '../config/defaults.js'
import type { Transport } from '../transport/transport.js'

/** Subject of broadcast control commands. */
export const CONTROL_SUBJECT = 'celeriac.control.broadcast'

/** A control command as sent to nodes. */
export type ControlCommand = { type: 'revoke'; ids: string[]; terminate: boolean }

/** Remote control of the cluster's worker nodes. */
export class Control {
  readonly #transport: () => Promise<Transport>
  readonly #conf: () => Readonly<ConfigValues>

  constructor(transport: () => Promise<Transport>, conf: () => Readonly<ConfigValues>) {
    this.#transport = transport
    this.#conf = conf
  }

  /**
   * Revokes tasks: every node, including nodes started later (within `workerRevokeExpires`),
   * discards their messages; with `terminate`, a node running one terminates its thread.
   */
  async revoke(ids: string | readonly string[], options: { terminate?: boolean } = {}): Promise<void> {
    const list = typeof ids === 'string' ? [ids] : [...ids]
    const transport = await this.#transport()
    const ttl = toMs(this.#conf().workerRevokeExpires, 'config.workerRevokeExpires')
    await Promise.all(list.map((id) => transport.revoke(id, ttl)))
    const command: ControlCommand = { type: 'revoke', ids: list, terminate: options.terminate ?? false }
    transport.broadcast(CONTROL_SUBJECT, msgpackCodec.encode(command))
  }
}
