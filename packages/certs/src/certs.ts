import 'reflect-metadata';
import { X509Certificate as NodeX509Certificate, randomBytes, webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 (maintained, TypeScript, WebCrypto underneath) builds the
// certificates; Node's own X509Certificate reads them. Node alone can make
// keys but not certificates, and shelling out to openssl would tie the CLI
// and the compose init step to a binary the image may not have.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * ECDSA P-256: small keys, fast handshakes on a 2-core store server, and
 * understood by Node's TLS, the JVM's (Kafka) and PostgreSQL's OpenSSL.
 */
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Certificates start a little in the past, so a peer whose clock runs a few minutes behind still accepts a new one. */
const BACKDATE_MS = 5 * 60_000;

/** A certificate and its private key, PEM (the key unencrypted PKCS#8: files holding it are written 0600). */
export interface KeyPairPem {
  cert: string;
  key: string;
}

/** A certificate just issued, with what an operator needs to track it. */
export interface IssuedCertificate extends KeyPairPem {
  /** Hex serial number (upper case, as Node and openssl print it): what a revocation names. */
  serial: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CaOptions {
  /** The CA's common name, e.g. "Tillstream chain CA (acme)". */
  commonName: string;
  /** Default 3650 (ten years): the CA outlives the certificates it signs. */
  validDays?: number;
  /** Injectable clock (tests issue certificates that are already expired). */
  now?: Date;
}

export type CertificateUsage = 'server' | 'client' | 'server-and-client';

export interface IssueOptions {
  /** Subject CN: the host for a server, the store id or service principal for a client. */
  commonName: string;
  usage: CertificateUsage;
  /** DNS names and IP addresses the server answers on (subjectAltName); required for server certificates. */
  hosts?: readonly string[];
  /** Subject OU: what kind of principal a client certificate names ("store", "service"). */
  organizationalUnit?: string;
  /** Default 397 days for servers (the browsers' limit), 90 for clients (rotated, see README). */
  validDays?: number;
  now?: Date;
}

/** Creates a self-signed certificate authority for a chain (or a demo, or a test run). */
export async function createCa(options: CaOptions): Promise<IssuedCertificate> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']));
  const { notBefore, notAfter } = validity(options.now, options.validDays ?? 3650);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(options.commonName),
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return issued(cert, keys.privateKey, options.commonName);
}

/** Issues a server or client certificate signed by `ca`. */
export async function issueCertificate(ca: KeyPairPem, options: IssueOptions): Promise<IssuedCertificate> {
  const hosts = options.hosts ?? [];
  if (options.usage !== 'client' && hosts.length === 0) throw new Error('a server certificate needs at least one host name or IP address');
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importPrivateKey(ca.key);
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']));
  const { notBefore, notAfter } = validity(options.now, options.validDays ?? (options.usage === 'client' ? 90 : 397));
  const purposes: string[] = [];
  if (options.usage !== 'client') purposes.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.usage !== 'server') purposes.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension(purposes, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (hosts.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: distinguishedName(options.commonName, options.organizationalUnit),
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return issued(cert, keys.privateKey, options.commonName);
}

/** What a PEM certificate says about itself (Node's parser: the same one TLS uses). */
export interface CertificateFacts {
  commonName: string | undefined;
  organizationalUnit: string | undefined;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  /** DNS and IP subjectAltNames. */
  hosts: string[];
}

export function describeCertificate(pem: string): CertificateFacts {
  const cert = new NodeX509Certificate(pem);
  const subject = parseDn(cert.subject);
  return {
    commonName: subject.get('CN'),
    organizationalUnit: subject.get('OU'),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    issuer: cert.issuer,
    hosts: (cert.subjectAltName ?? '')
      .split(/,\s*/)
      .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
      .filter((h): h is string => h !== undefined),
  };
}

/** True when `pem` was signed by `caPem` (signature only; dates are the caller's concern). */
export function signedBy(pem: string, caPem: string): boolean {
  return new NodeX509Certificate(pem).verify(new NodeX509Certificate(caPem).publicKey);
}

function validity(now: Date | undefined, days: number): { notBefore: Date; notAfter: Date } {
  const start = (now ?? new Date()).getTime();
  return { notBefore: new Date(start - BACKDATE_MS), notAfter: new Date(start + days * DAY_MS) };
}

/** 16 random bytes with the top bit clear: a positive DER integer, unique without a counter. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f | 0x10;
  return bytes.toString('hex');
}

/** RFC 4514 names; commas and other specials in a CN are escaped. */
function distinguishedName(commonName: string, organizationalUnit?: string): string {
  const escape = (v: string) => v.replace(/([,+"\\<>;=#])/g, '\\$1');
  return [`CN=${escape(commonName)}`, ...(organizationalUnit ? [`OU=${escape(organizationalUnit)}`] : []), 'O=Tillstream'].join(', ');
}

/** Node prints a subject one attribute per line ("CN=s001\nO=Tillstream"). */
function parseDn(subject: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of subject.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

async function issued(cert: x509.X509Certificate, privateKey: CryptoKey, commonName: string): Promise<IssuedCertificate> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', privateKey);
  return {
    cert: cert.toString('pem'),
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    serial: new NodeX509Certificate(cert.toString('pem')).serialNumber.toUpperCase(),
    commonName,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}
