#include "libkb/sign/certificate.h"

#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "libkb/util/hash.h"

namespace kb::sign {

namespace {

std::string asn1_string(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string oid_text(const ASN1_OBJECT* object) {
  char buffer[128];
  int n = OBJ_obj2txt(buffer, sizeof buffer, object, 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(std::min(n, 127))) : std::string();
}

// The UTF8String an extension's value holds (Fulcio's newer extensions).
std::optional<std::string> der_utf8(const ASN1_OCTET_STRING* data) {
  const unsigned char* p = ASN1_STRING_get0_data(data);
  ASN1_UTF8STRING* s = d2i_ASN1_UTF8STRING(nullptr, &p, ASN1_STRING_length(data));
  if (!s) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string out = asn1_string(s);
  ASN1_UTF8STRING_free(s);
  return out;
}

struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};

void put_u16(std::string& out, size_t v) {
  out.push_back(static_cast<char>(v >> 8 & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

// A precertificate-signing certificate (extended key usage
// 1.3.6.1.4.1.11129.2.4.4) stands between a leaf and its real issuer.
bool is_precertificate_signer(X509* cert) {
  auto* eku = static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr));
  ERR_clear_error();
  bool found = false;
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); ++i)
    found |= oid_text(sk_ASN1_OBJECT_value(eku, i)) == "1.3.6.1.4.1.11129.2.4.4";
  EXTENDED_KEY_USAGE_free(eku);
  return found;
}

}  // namespace

std::string CertificateIdentity::subject() const {
  if (!san_uris.empty()) return san_uris.front();
  if (!san_emails.empty()) return san_emails.front();
  return "(no subject alternative name)";
}

CertificateIdentity certificate_identity(X509* cert) {
  CertificateIdentity id;
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_URI) id.san_uris.push_back(asn1_string(name->d.uniformResourceIdentifier));
      if (name->type == GEN_EMAIL) id.san_emails.push_back(asn1_string(name->d.rfc822Name));
    }
    GENERAL_NAMES_free(names);
  }
  ERR_clear_error();
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    std::string oid = oid_text(X509_EXTENSION_get_object(ext));
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    if (oid == "1.3.6.1.4.1.57264.1.1") id.issuer_v1 = asn1_string(data);
    if (oid == "1.3.6.1.4.1.57264.1.8") id.issuer_v2 = der_utf8(data);
    if (oid == "1.3.6.1.4.1.57264.1.9") id.build_signer_uri = der_utf8(data);
    if (oid == "1.3.6.1.4.1.57264.1.12") id.source_repository_uri = der_utf8(data);
  }
  return id;
}

std::vector<Certificate> verify_certificate_chain(X509* leaf, const TrustRoot& root, int64_t time) {
  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  if (!store || !ctx) throw VerificationError("out of memory verifying a certificate");
  size_t anchors = 0;
  for (const CertificateAuthority& authority : root.authorities) {
    if (!authority.valid.contains(time)) continue;
    for (const std::string& der : authority.certificates_der) {
      Certificate cert = certificate_from_der(der);
      X509_STORE_add_cert(store.get(), cert.get());  // the store takes its own reference
      ++anchors;
    }
  }
  ERR_clear_error();
  if (anchors == 0)
    throw VerificationError("failed to build timestamp certificate chain: no certificate authority of the trust root (" +
                            root.origin + ") was valid at " + format_rfc3339(time));
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1)
    throw VerificationError("cannot verify the certificate: " + openssl_error());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Every certificate the root lists is an anchor (an intermediate included),
  // as sigstore's clients treat them; validity is judged at the signing time.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_USE_CHECK_TIME);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(time));
  if (X509_verify_cert(ctx.get()) != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    throw VerificationError(std::string("failed to build timestamp certificate chain: ") +
                            X509_verify_cert_error_string(code) + " (at " + format_rfc3339(time) + ")");
  }
  std::vector<Certificate> chain;
  STACK_OF(X509)* built = X509_STORE_CTX_get1_chain(ctx.get());
  for (int i = 1; i < sk_X509_num(built); ++i) {
    X509* cert = sk_X509_value(built, i);
    X509_up_ref(cert);
    chain.emplace_back(cert);
  }
  sk_X509_pop_free(built, X509_free);
  uint32_t flags = X509_get_extension_flags(leaf);
  if (!(flags & EXFLAG_KUSAGE) || !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
    throw VerificationError("Key usage is not of type `digital signature`");
  if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN))
    throw VerificationError("Extended usage does not contain `code signing`");
  if (chain.empty()) throw VerificationError("the signing certificate has no issuer in the trust root");
  return chain;
}

void verify_embedded_sct(X509* leaf, const std::vector<Certificate>& chain, const TrustRoot& root) {
  auto fail = [](const std::string& why) { return VerificationError("failed to verify SCT on signing certificate: " + why); };
  if (X509_get_ext_by_NID(leaf, NID_ct_precert_scts, -1) < 0)
    throw fail("Certificate does not contain a signed certificate timestamp extension");
  auto* scts = static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf, NID_ct_precert_scts, nullptr, nullptr));
  if (!scts)  // OpenSSL refuses timestamps signed with anything but SHA-256 (and malformed lists)
    throw fail("the certificate's signed certificate timestamp cannot be read (" + openssl_error() +
               "); only SHA-256 ECDSA or RSA timestamps are supported");
  struct Free {
    STACK_OF(SCT)* s;
    ~Free() { SCT_LIST_free(s); }
  } free_scts{scts};
  if (sk_SCT_num(scts) != 1) throw fail("Expected one certificate timestamp, found " + std::to_string(sk_SCT_num(scts)));
  SCT* sct = sk_SCT_value(scts, 0);
  if (SCT_get_version(sct) != SCT_VERSION_V1) throw fail("unsupported SCT version");
  int nid = SCT_get_signature_nid(sct);
  if (nid != NID_ecdsa_with_SHA256 && nid != NID_sha256WithRSAEncryption)
    throw fail("Found unexpected hash algorithm in SCT: only SHA256 is supported");

  if (chain.empty()) throw fail("the certificate has no issuer");
  X509* issuer = chain[0].get();
  if (is_precertificate_signer(issuer) && chain.size() > 1) issuer = chain[1].get();
  if (!(X509_get_extension_flags(issuer) & EXFLAG_CA)) throw fail("the issuer is not a CA");
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  if (!issuer_key) throw fail("the issuer's key cannot be read");
  std::string issuer_key_hash = sha256_bytes(public_key_der(issuer_key));

  // The precertificate's TBS: the certificate's TBS without the SCT list.
  Certificate precert(X509_dup(leaf));
  int index = X509_get_ext_by_NID(precert.get(), NID_ct_precert_scts, -1);
  X509_EXTENSION_free(X509_delete_ext(precert.get(), index));
  std::string tbs = der_encoding([&](unsigned char** out) { return i2d_re_X509_tbs(precert.get(), out); },
                                 "the precertificate");

  unsigned char* ext = nullptr;
  size_t ext_size = SCT_get0_extensions(sct, &ext);
  std::string signed_data;
  signed_data.push_back(0);  // sct_version v1
  signed_data.push_back(0);  // signature_type certificate_timestamp
  uint64_t timestamp = SCT_get_timestamp(sct);
  for (int shift = 56; shift >= 0; shift -= 8) signed_data.push_back(static_cast<char>(timestamp >> shift & 0xff));
  put_u16(signed_data, 1);  // entry_type precert_entry
  signed_data += issuer_key_hash;
  signed_data.push_back(static_cast<char>(tbs.size() >> 16 & 0xff));
  put_u16(signed_data, tbs.size() & 0xffff);
  signed_data += tbs;
  put_u16(signed_data, ext_size);
  signed_data.append(reinterpret_cast<const char*>(ext), ext_size);

  unsigned char* log_id = nullptr;
  size_t log_id_size = SCT_get0_log_id(sct, &log_id);
  std::string id(reinterpret_cast<const char*>(log_id), log_id_size);
  unsigned char* sig = nullptr;
  size_t sig_size = SCT_get0_signature(sct, &sig);
  for (const LogKey& log : root.ct_logs) {
    if (log.key_id != id) continue;
    Pkey key = public_key_from_der(log.public_key_der);
    if (!verify_signature(key.get(), signed_data, std::string_view(reinterpret_cast<const char*>(sig), sig_size)))
      throw fail("SCT verify failed: the signature of CT log " + to_hex(id) + " does not verify");
    return;
  }
  throw fail("SCT verify failed: no CT log of the trust root has key ID " + to_hex(id));
}

}  // namespace kb::sign
