import { describe, expect, it } from 'vitest';
import { defaultAllowedDomains, domainAllowed, validPattern } from './domains.js';

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
});
