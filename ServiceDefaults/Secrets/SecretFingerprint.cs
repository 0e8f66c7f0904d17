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
    private readonly byte[] _key;

    public SecretFingerprint(byte[] key)
    {
        if (key.Length < 32)
        {
            throw new InvalidOperationException($"'{KeyConfig}' must be at least 32 bytes.");
        }

        _key = key;
    }

    /// <summary>"hmac-sha256:" + the first 128 bits in hex: enough to tell keys apart, short enough to read.</summary>
    public string Of(string secret)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(secret), mac);
        return "hmac-sha256:" + Convert.ToHexStringLower(mac[..16]);
    }

    public static IHostApplicationBuilder AddSecretFingerprint(IHostApplicationBuilder builder)
    {
        var configured = builder.Configuration[KeyConfig];
        var key = configured is not null
            ? Encoding.UTF8.GetBytes(configured)
            // Without a configured secret, derive one from the signing key (HKDF with its own label), so the two
            // purposes never share key material directly.
            : HKDF.DeriveKey(HashAlgorithmName.SHA256,
                Encoding.UTF8.GetBytes(builder.Configuration[Names.AuthNames.SigningKeyConfig]
                    ?? throw new InvalidOperationException($"Configure '{KeyConfig}'.")),
                outputLength: 32,
                info: Encoding.UTF8.GetBytes("fleetaspire/sharedKey-fingerprint/v1"));
        builder.Services.AddSingleton(new SecretFingerprint(key));
        return builder;
    }
}
