#include "libkb/sign/crypto.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace kb::sign {

void PkeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
void X509Deleter::operator()(X509* cert) const { X509_free(cert); }

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

Bio memory_bio(std::string_view data) {
  Bio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) throw VerificationError("out of memory reading a key");
  return bio;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

bool is_ed25519(EVP_PKEY* key) { return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519; }

}  // namespace

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

Pkey public_key_from_der(std::string_view spki_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) throw VerificationError("not a DER public key: " + openssl_error());
  return key;
}

Pkey rsa_public_key_from_pkcs1_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkey key(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
  if (!key) throw VerificationError("not a DER PKCS#1 RSA public key: " + openssl_error());
  return key;
}

Pkey public_key_from_pem(std::string_view pem) {
  Bio bio = memory_bio(pem);
  if (pem.find("BEGIN CERTIFICATE") != std::string_view::npos) {
    Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) throw VerificationError("not a PEM certificate: " + openssl_error());
    Pkey key(X509_get_pubkey(cert.get()));
    if (!key) throw VerificationError("the certificate's public key cannot be read: " + openssl_error());
    return key;
  }
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw VerificationError("not a PEM public key: " + openssl_error());
  return key;
}

Pkey private_key_from_pem(std::string_view pem) {
  Bio bio = memory_bio(pem);
  // An empty passphrase callback: an encrypted key fails instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) throw VerificationError("not an unencrypted PEM private key: " + openssl_error());
  return key;
}

std::string der_encoding(const std::function<int(unsigned char**)>& encode, const char* what) {
  unsigned char* out = nullptr;
  int size = encode(&out);
  if (size <= 0) throw VerificationError(std::string("cannot encode ") + what + ": " + openssl_error());
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(size));
  OPENSSL_free(out);
  return der;
}

std::string public_key_der(EVP_PKEY* key) {
  return der_encoding([key](unsigned char** out) { return i2d_PUBKEY(key, out); }, "a public key");
}

Certificate certificate_from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Certificate cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) throw VerificationError("not a DER certificate: " + openssl_error());
  if (p != reinterpret_cast<const unsigned char*>(der.data() + der.size()))
    throw VerificationError("a DER certificate has trailing bytes");
  return cert;
}

std::string certificate_der(X509* cert) {
  return der_encoding([cert](unsigned char** out) { return i2d_X509(cert, out); }, "a certificate");
}

std::string certificate_pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    throw VerificationError("cannot encode a certificate: " + openssl_error());
  return bio_contents(bio.get());
}

bool verify_signature(EVP_PKEY* key, std::string_view data, std::string_view signature) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  const EVP_MD* md = is_ed25519(key) ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
    ERR_clear_error();
    return false;
  }
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  return ok == 1;
}

bool verify_prehashed_sha256(EVP_PKEY* key, std::string_view digest, std::string_view signature) {
  if (is_ed25519(key) || digest.size() != 32) return false;  // Ed25519 signs messages, not digests
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1) {
    ERR_clear_error();
    return false;
  }
  int ok = EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                           reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
  ERR_clear_error();
  return ok == 1;
}

std::string sign_data(EVP_PKEY* key, std::string_view data) {
  MdCtx ctx(EVP_MD_CTX_new());
  const EVP_MD* md = is_ed25519(key) ? nullptr : EVP_sha256();
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw VerificationError("cannot sign with this key: " + openssl_error());
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw VerificationError("cannot sign with this key: " + openssl_error());
  signature.resize(size);
  return signature;
}

}  // namespace kb::sign
