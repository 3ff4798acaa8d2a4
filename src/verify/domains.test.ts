import { describe, expect, it } from 'vitest';
import { defaultAllowedDomains, domainAllowed, hostOf, portalRestBase, validPattern } from './domains.js';

describe('the allow-list', () => {
  it('takes the Bitrix24 cloud by default, one portal label deep', () => {
    for (const d of [
      'a.bitrix24.com',
      'my-company.bitrix24.de',
      'x.bitrix24.com.br',
      'A.Bitrix24.COM',
      'b.bitrix24.ru',
    ])
      expect(domainAllowed(d, defaultAllowedDomains)).toBe(true);
  });

  it('refuses what only looks like the cloud: more labels, other TLDs, suffixes, hosts of attackers', () => {
    for (const d of [
      'x.bitrix24.attacker.example',
      'x.bitrix24.xyz',
      'a.b.bitrix24.com',
      'bitrix24.com',
      'a.bitrix24.com.evil.example',
      'a.bitrix24.comx',
      'abitrix24.com',
      'a.bitrix24.com/path',
      'a.bitrix24.com@evil.example',
      '127.0.0.1:8080',
      '',
    ]) {
      expect(domainAllowed(d, defaultAllowedDomains), d).toBe(false);
    }
  });

  it('lets a user add on-premise hosts and ports, * one label or one port', () => {
    expect(domainAllowed('crm.example.com', ['crm.example.com'])).toBe(true);
    expect(domainAllowed('crm.example.com', ['*.example.com'])).toBe(true);
    expect(domainAllowed('a.crm.example.com', ['*.example.com'])).toBe(false);
    expect(domainAllowed('127.0.0.1:8080', ['127.0.0.1:*'])).toBe(true);
    expect(domainAllowed('127.0.0.1', ['127.0.0.1:*'])).toBe(false);
  });

  it('tells a malformed pattern from a host pattern', () => {
    for (const p of ['*.bitrix24.com', '127.0.0.1:*', 'crm.example.com:8443', 'localhost'])
      expect(validPattern(p), p).toBe(true);
    for (const p of ['https://crm.example.com', 'crm.example.com/', '*.example.com:x', 'a b'])
      expect(validPattern(p), p).toBe(false);
  });

  it('refuses what is no host name, even where a pattern would match it', () => {
    expect(domainAllowed('127.0.0.1:80x', ['127.0.0.1:*'])).toBe(false);
    expect(domainAllowed('-a.example.com', ['*.example.com'])).toBe(false);
    expect(domainAllowed('crm.example.com:123456', ['crm.example.com:*'])).toBe(false);
  });
});

describe('where a portal lives', () => {
  it('its REST API from its domain alone, lower-cased; loopback portals over plain HTTP', () => {
    expect(portalRestBase('A.Bitrix24.COM')).toBe('https://a.bitrix24.com/rest/');
    expect(portalRestBase('127.0.0.1:8080')).toBe('http://127.0.0.1:8080/rest/');
    expect(portalRestBase('LOCALHOST:9')).toBe('http://localhost:9/rest/');
    expect(portalRestBase('crm.example.com:8443')).toBe('https://crm.example.com:8443/rest/');
    expect(() => portalRestBase('evil.example/x?')).toThrow(
      expect.objectContaining({ reason: 'domain_not_allowed', code: 'B24GW_UNAUTHORIZED' }),
    );
  });

  it('hostOf: the host of a URL, lower-cased, or nothing', () => {
    expect(hostOf('HTTPS://A.Bitrix24.COM:443/rest/')).toBe('a.bitrix24.com');
    expect(hostOf('http://127.0.0.1:9000/x')).toBe('127.0.0.1:9000');
    expect(hostOf('not a url')).toBeUndefined();
  });
});
