using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FleetAspire.ServiceDefaults.Secrets;

/// <summary>
/// How a sharedKey is compared or shown anywhere but the owner's connection info: an HMAC-SHA256 keyed with a server
/// secret (<c>Secrets:FingerprintKey</c>). Unlike a plain hash, a fingerprint seen on a dashboard or in a response
/// cannot be brute-forced back to a key without that secret; two equal keys still give equal fingerprints.
/// </summary>
public sealed class SecretFingerprint
{
    public const string KeyConfig = "Secrets:FingerprintKey";
    private const int SecretBytes = 32;
    private static readonly byte[] Label = Encoding.UTF8.GetBytes("fleetaspire/sharedKey-fingerprint/v1");
    private readonly byte[] _key;

    /// <param name="secret">The configured fingerprint secret, or the signing key when none is configured.</param>
    public SecretFingerprint(string secret)
    {
        if (Encoding.UTF8.GetByteCount(secret) < SecretBytes)
        {
            throw new InvalidOperationException($"'{KeyConfig}' must be at least {SecretBytes} bytes.");
        }

        // Always derived (HKDF with its own label): neither the configured secret nor the signing key is ever used —
        // or sent anywhere, such as to PostgreSQL as the verifier's HMAC key — as it is.
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), outputLength: 32, info: Label);
    }

    /// <summary>
    /// The derived key itself, for comparisons that must run where the data is (the verifier computes the same HMAC in
    /// SQL). A copy: nobody can change it.
    /// </summary>
    public byte[] Key => (byte[])_key.Clone();

    /// <summary>"hmac-sha256:" + the first 128 bits in hex: enough to tell keys apart, short enough to read.</summary>
    public string Of(string secret)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(secret), mac);
        return "hmac-sha256:" + Convert.ToHexStringLower(mac[..16]);
    }

    public static IHostApplicationBuilder AddSecretFingerprint(IHostApplicationBuilder builder)
    {
        var secret = builder.Configuration[KeyConfig] ?? builder.Configuration[Names.AuthNames.SigningKeyConfig]
            ?? throw new InvalidOperationException($"Configure '{KeyConfig}'.");
        builder.Services.AddSingleton(new SecretFingerprint(secret));
        return builder;
    }
}
