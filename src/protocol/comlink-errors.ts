import { transferHandlers, type TransferHandler } from 'comlink'
import { fromWireError, toWireError, type WireError } from '../serialization/failure.js'

/**
 * comlink's default 'throw' handler keeps only name, message and stack; this one keeps the
 * class name, code, data and cause through the wire form. Installed in both threads.
 */
export function installComlinkErrorHandler(): void {
  const original = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, WireError>
  transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize: ({ value }: { value: unknown }) => [toWireError(value), []],
    deserialize: (wire: WireError) => {
      throw fromWireError(wire)
    },
  } as TransferHandler<{ value: unknown }, WireError>)
}
