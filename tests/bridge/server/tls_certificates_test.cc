// The listener's certificate pair alone: loaded at start (an error names the field), reloaded
// when its files change and only as often as the check interval allows, and kept when a
// changed pair does not load. Certificates are made here, self-signed, with OpenSSL.
#include "bridge/server/tls_certificates.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/mocks/session_mocks.h"

namespace bridge::server {
namespace {

using ::testing::HasSubstr;

struct Pem {
  std::string cert;
  std::string key;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type
  return std::string(data, static_cast<size_t>(n));
}

// A self-signed certificate for `cn` and its key.
Pem SelfSigned(const std::string& cn) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(X509_new(), &X509_free);
  X509_set_version(x509.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509.get()), 3600);
  X509_set_pubkey(x509.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x509.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x509.get(), name);
  X509_sign(x509.get(), key.get(), EVP_sha256());
  Pem pem;
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(cert_bio.get(), x509.get());
  pem.cert = BioText(cert_bio.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  pem.key = BioText(key_bio.get());
  return pem;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// The CN of the certificate `context` holds.
std::string CommonName(const std::shared_ptr<asio::ssl::context>& context) {
  X509* cert = SSL_CTX_get0_certificate(context->native_handle());
  if (cert == nullptr) return "";
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  return cn;
}

class TlsCertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TEST_TMPDIR");
    const std::string base =
        absl::StrCat(dir != nullptr ? dir : "/tmp", "/",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    tls_.set_cert_file(base + ".pem");
    tls_.set_key_file(base + ".key");
  }
  void Install(const Pem& pem) {
    Write(tls_.cert_file(), pem.cert);
    Write(tls_.key_file(), pem.key);
  }

  v1::ServerTls tls_;
  Metrics metrics_;
  testing::FakeClock clock_;
};

TEST_F(TlsCertificatesTest, AMissingFileAtStartIsAnErrorNamingTheField) {
  TlsCertificates certificates(tls_, &metrics_, &clock_);
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> started = certificates.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("tls.cert_file"));

  Write(tls_.cert_file(), SelfSigned("bridge-one").cert);
  Write(tls_.key_file(), "not a key");
  TlsCertificates again(tls_, &metrics_, &clock_);
  started = again.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("tls.key_file"));
  EXPECT_EQ(metrics_.tls_reload_failures.load(), 0u);  // a start is not a reload
}

TEST_F(TlsCertificatesTest, AChangedPairIsServedAfterTheCheckInterval) {
  tls_.set_reload_check_ms(1000);
  Install(SelfSigned("bridge-one"));
  TlsCertificates certificates(tls_, &metrics_, &clock_);
  ASSERT_TRUE(certificates.Start().ok());
  EXPECT_EQ(CommonName(certificates.Current()), "bridge-one");

  Install(SelfSigned("bridge-number-two"));
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(CommonName(certificates.Current()), "bridge-one");  // not looked at yet
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(CommonName(certificates.Current()), "bridge-number-two");
  EXPECT_EQ(metrics_.tls_reloads.load(), 1u);
  // Unchanged files are not loaded again.
  clock_.Advance(absl::Seconds(5));
  certificates.Current();
  EXPECT_EQ(metrics_.tls_reloads.load(), 1u);
}

TEST_F(TlsCertificatesTest, APairThatDoesNotLoadKeepsTheOneInUseAndIsCountedOnce) {
  tls_.set_reload_check_ms(0);
  Install(SelfSigned("bridge-one"));
  TlsCertificates certificates(tls_, &metrics_, &clock_);
  ASSERT_TRUE(certificates.Start().ok());

  Write(tls_.key_file(), "-----BEGIN PRIVATE KEY-----\ntruncated");
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(CommonName(certificates.Current()), "bridge-one");
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(CommonName(certificates.Current()), "bridge-one");
  EXPECT_EQ(metrics_.tls_reload_failures.load(), 1u);  // tried again only when the files change
  EXPECT_EQ(metrics_.tls_reloads.load(), 0u);

  Install(SelfSigned("bridge-repaired"));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(CommonName(certificates.Current()), "bridge-repaired");
  EXPECT_EQ(metrics_.tls_reloads.load(), 1u);
}

}  // namespace
}  // namespace bridge::server
