#pragma once
// The OpenSSL operations signature verification needs, with owned handles and
// errors as kb::sign::VerificationError naming what failed. Keys are passed
// as DER SubjectPublicKeyInfo (what trust roots and certificates carry).
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "libkb/util/error.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace kb::sign {

// A signature, certificate or log proof that does not verify: the message is
// the reason, as `kb verify` and the loaders print it.
class VerificationError : public Error {
 public:
  using Error::Error;
};

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const;
};
struct X509Deleter {
  void operator()(X509* cert) const;
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using Certificate = std::unique_ptr<X509, X509Deleter>;

// The newest OpenSSL error on this thread as text (and clears the queue).
std::string openssl_error();

Pkey public_key_from_der(std::string_view spki_der);
// A PKCS#1 RSAPublicKey (trust roots list some CT keys so).
Pkey rsa_public_key_from_pkcs1_der(std::string_view der);
// A PEM "PUBLIC KEY" or a PEM certificate's key.
Pkey public_key_from_pem(std::string_view pem);
Pkey private_key_from_pem(std::string_view pem);
std::string public_key_der(EVP_PKEY* key);  // DER SubjectPublicKeyInfo

// What an OpenSSL i2d_* call writes, owned; `what` names it in the error.
std::string der_encoding(const std::function<int(unsigned char**)>& encode, const char* what);

Certificate certificate_from_der(std::string_view der);
std::string certificate_der(X509* cert);
std::string certificate_pem(X509* cert);

// Whether `signature` is `key`'s signature over `data`: ECDSA (DER signature)
// and RSA PKCS#1 v1.5 with SHA-256, Ed25519 over the data itself.
bool verify_signature(EVP_PKEY* key, std::string_view data, std::string_view signature);
// ECDSA/RSA over a SHA-256 digest already taken (sigstore's message signature).
bool verify_prehashed_sha256(EVP_PKEY* key, std::string_view digest, std::string_view signature);
// Signs `data` (SHA-256 for ECDSA and RSA); the signature in the form
// verify_signature takes.
std::string sign_data(EVP_PKEY* key, std::string_view data);

}  // namespace kb::sign
