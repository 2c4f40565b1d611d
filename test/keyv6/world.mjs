// The Keyv 6 world (see run.sh): the bare specifier `keyv` resolves to Keyv 6, installed side by
// side with Keyv 5 as the npm alias `keyv6`, for the library and the tests alike.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    return nextResolve(specifier === 'keyv' ? 'keyv6' : specifier, context);
  },
});
