// The per-address limits' key: what express-rate-limit's ipKeyGenerator gave for the same
// addresses (the gateway used it before; these are its answers, recorded), and malformed input.
import { addressKey } from '../../src/http/address-key.js';

test.each([
  ['1.2.3.4', '1.2.3.4'],
  ['2001:db8:1:2345::1', '2001:db8:1:2300::/56'],
  ['2001:DB8:1:23ff:ffff:ffff:ffff:ffff', '2001:db8:1:2300::/56'],
  ['2001:0db8:0001:2345:0000:0000:0000:0001', '2001:db8:1:2300::/56'],
  ['2001:db8:1:2400::1', '2001:db8:1:2400::/56'],
  ['::ffff:10.0.0.1', '10.0.0.1'],
  ['::ffff:a00:1', '10.0.0.1'],
  ['::1.2.3.4', '1.2.3.4'],
  ['::1', '::/56'],
  ['::', '::/56'],
  ['fe80::1%eth0', 'fe80::/56'],
  ['fe80:0:0:1::', 'fe80::/56'],
  ['2001:db8:0:0:1::', '2001:db8::/56'],
  ['1:0:0:0:1:0:0:0', '1::/56'],
  ['1:2:3:4:5:6:7:8', '1:2:3::/56'],
])('%s is counted as %s', (ip, key) => {
  expect(addressKey(ip)).toBe(key);
});

test.each([[''], ['not an address'], ['1.2.3.4.5'], ['2001:db8::1::2'], ['::ffff:300.1.1.1']])('what is not an address stays as it is: %j', (ip) => {
  expect(addressKey(ip)).toBe(ip);
});

test('two addresses of one /56 share a key, the next /56 does not', () => {
  expect(addressKey('2001:db8:aa:bb00::1')).toBe(addressKey('2001:db8:aa:bbff:1:2:3:4'));
  expect(addressKey('2001:db8:aa:bc00::1')).not.toBe(addressKey('2001:db8:aa:bb00::1'));
});
