using System.Security.Cryptography;
using FleetAspire.Cloud;

namespace FleetAspire.Pool.Application;

/// <summary>What every pool machine is created with, whichever storage records it.</summary>
internal static class PoolProvisioning
{
    /// <summary>256 random bits, URL-safe. The key goes to the server in user data and to the pool row, nowhere else.</summary>
    public static string MintSharedKey() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>
    /// Records a server the provider just created; if that fails (the database away, the phase moved under the write)
    /// the server is deleted again, so no server runs that no row knows of. The failure still reaches the caller.
    /// </summary>
    public static async Task RecordOrDestroyAsync(ICloudProvider provider, CloudServer server, Func<Task> record)
    {
        try
        {
            await record();
        }
        catch
        {
            try
            {
                await provider.DeleteServerAsync(server.Id, CancellationToken.None);
            }
            catch (Exception)
            {
                // REVIEW: the provider is away too; the server is labelled fleet-pool for an operator to find.
            }

            throw;
        }
    }

    public static string CloudInit(string sharedKey) => $"""
        #cloud-config
        write_files:
          - path: /etc/fleet/shared-key
            permissions: '0600'
            content: {sharedKey}
        """;
}
