using System.Text;
using FleetAspire.Testing;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// Generates malformed and hostile requests for every endpoint. Every write it generates is invalid by
/// construction (bad body, unknown or foreign id, wrong role), so none may succeed and none may change a row.
/// </summary>
public sealed class HostileRequests(Random random, IReadOnlyList<string> foreignAgentIds)
{
    public sealed record Endpoint(string Service, string Method, string Template, bool Writes);

    /// <summary>Every route of every service; <c>{id}</c> is replaced by a hostile or foreign id.</summary>
    public static readonly Endpoint[] Endpoints =
    [
        new("agents", "POST", "/api/agents", true),
        new("agents", "GET", "/api/agents", false),
        new("agents", "GET", "/api/agents/{id}", false),
        new("agents", "DELETE", "/api/agents/{id}", true),
        new("agents", "POST", "/api/agents/{id}/claim", true),
        new("agents", "POST", "/api/agents/{id}/release", true),
        new("agents", "GET", "/api/agents/{id}/connection", false),
        new("pool", "GET", "/api/pool", false),
        new("pool", "PUT", "/api/pool/target", true),
        new("pool", "GET", "/api/pool/machines", false),
        new("pool", "POST", "/api/pool/reconcile", true),
        new("machines", "POST", "/api/machines/custom", true),
        new("machines", "GET", "/api/machines/custom", false),
        new("machines", "GET", "/api/machines/custom/{id}", false),
        new("machines", "PATCH", "/api/machines/custom/{id}", true),
        new("machines", "DELETE", "/api/machines/custom/{id}", true),
        new("machines", "POST", "/api/machines/custom/{id}/assign", true),
        new("machines", "POST", "/api/machines/custom/{id}/release", true),
        new("machines", "POST", "/api/machines/heartbeats", true),
        new("machines", "GET", "/api/machines/health", false),
        new("machines", "GET", "/api/machines", false),
        new("machines", "GET", "/api/machines/counts", false),
        new("machines", "GET", "/api/machines/{id}", false),
        new("snapshots", "POST", "/api/snapshots", true),
        new("snapshots", "GET", "/api/snapshots", false),
        new("snapshots", "GET", "/api/snapshots/{id}", false),
        new("snapshots", "DELETE", "/api/snapshots/{id}", true),
        new("migration", "GET", "/api/migration", false),
        new("migration", "POST", "/api/migration/backfill/start", true),
        new("migration", "POST", "/api/migration/backfill/pause", true),
        new("migration", "POST", "/api/migration/backfill/resume", true),
        new("migration", "POST", "/api/migration/verify", true),
        new("migration", "GET", "/api/migration/divergences", false),
        new("migration", "GET", "/api/migration/dirty", false),
        new("migration", "POST", "/api/migration/backfill/catch-up", true),
        new("migration", "POST", "/api/migration/phase", true),
        new("migration", "GET", "/api/migration/history", false),
        new("migration", "POST", "/api/migration/repair", true),
    ];

    private static readonly string[] HostileIds =
    [
        "", "%00", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "'%20OR%20'1'='1", "agt_%00x", new('a', 65), new('z', 5000),
        "%E2%80%AE", "%F0%9F%92%A9", "agt_00000000000000000000000000000000", "..%5C..%5C", "%25%32%65", "%C0%AF",
        "1;DROP%20TABLE%20agents", "agt_ffffffffffffffffffffffffffffffff", "%0d%0aSet-Cookie:x=y",
    ];

    private static readonly string[] HostileBodies =
    [
        "", "{", "}", "null", "[]", "\"name\"", "{\"name\":}", "{\"name\":null}", "{\"name\":\"\"}", "{\"name\":\"   \"}",
        "{\"name\":123}", "{\"name\":[\"a\"]}", "{\"name\":{\"$ne\":1}}", "{\"targetSize\":-5}", "{\"targetSize\":1e309}",
        "{\"targetSize\":\"9\"}", "{\"targetSize\":99999999999}", "{\"name\":\"a\u0000b\"}", "{\"name\":\"\\u0007bell\"}",
        "{\"name\":\"" + new string('x', 101) + "\"}", "{\"name\":\"" + new string('y', 200_000) + "\"}",
        "{" + string.Concat(Enumerable.Repeat("\"a\":{", 300)) + string.Concat(Enumerable.Repeat("}", 300)) + "}",
        "<xml/>", "name=x", "{\"name\":\"ok\",}", "\uFEFF{\"name\":1}",
        "{\"ipv4\":\"999.1.1.1\",\"sharedKey\":\"0123456789abcdefXYZ\"}", "{\"ipv4\":\"1.2.3.4\",\"port\":0,\"sharedKey\":\"0123456789abcdefXYZ\"}",
        "{\"ipv4\":\"1.2.3.4\",\"sharedKey\":\"short\"}", "{\"ipv4\":\"0x7f.1.1.1\",\"sharedKey\":\"0123456789abcdefXYZ\"}",
        "{\"agentId\":null}", "{\"agentId\":\"../../etc\"}", "{\"outcome\":\"dead\"}", "{\"port\":-1}", "{\"cpuCount\":0}",
    ];

    private static readonly string[] HostileQueries =
    [
        "?limit=-1", "?limit=0", "?limit=1000000", "?limit=abc", "?limit=1.5", "?after=%27--", "?after=" + new string('a', 500),
        "?machineType=azure", "?machineType=", "?userId=" + new string('u', 300), "?status=deleted", "?machineId=",
        "?machineId=%00", "?machineId=" + new string('m', 100), "?limit=%00", "?after=%F0%9F%92%A9",
    ];

    public HttpRequestMessage Next(Uri baseAddress, out Endpoint endpoint)
    {
        endpoint = Endpoints[random.Next(Endpoints.Length)];
        var path = endpoint.Template;
        if (path.Contains("{id}", StringComparison.Ordinal))
        {
            var id = random.Next(4) == 0 && foreignAgentIds.Count > 0
                ? foreignAgentIds[random.Next(foreignAgentIds.Count)]
                : HostileIds[random.Next(HostileIds.Length)];
            path = path.Replace("{id}", id, StringComparison.Ordinal);
        }

        if (!endpoint.Writes || random.Next(3) == 0)
        {
            path += HostileQueries[random.Next(HostileQueries.Length)];
        }

        var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), new Uri(baseAddress, path));
        request.Headers.TryAddWithoutValidation("Authorization", Credential(endpoint));
        if (endpoint.Template.EndsWith("/heartbeats", StringComparison.Ordinal))
        {
            // Forged machine credentials: a victim's machine id with a signature made without its key.
            request.Headers.TryAddWithoutValidation("X-Fleet-Machine-Id", random.Next(2) == 0 && foreignAgentIds.Count > 0 ? "1000001" : HostileIds[random.Next(HostileIds.Length)]);
            request.Headers.TryAddWithoutValidation("X-Fleet-Timestamp", random.Next(3) == 0 ? "0" : DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("X-Fleet-Signature", new string('a', random.Next(0, 80)));
        }

        if (endpoint.Method is "POST" or "PUT" or "PATCH")
        {
            var body = HostileBodies[random.Next(HostileBodies.Length)];
            var contentType = random.Next(5) switch { 0 => "text/plain", 1 => "application/xml", _ => "application/json" };
            request.Content = random.Next(10) == 0
                ? new ByteArrayContent([0xC3, 0x28, 0xA0, 0xA1, 0xFF, 0xFE]) // invalid UTF-8
                : new StringContent(body, Encoding.UTF8, contentType);
            if (random.Next(10) == 0)
            {
                request.Content.Headers.ContentType = null;
            }
        }

        return request;
    }

    /// <summary>
    /// Writes only ever get a credential that must be refused, or a valid one with a body or target that must be
    /// refused. Reads get anything, including garbage.
    /// </summary>
    private string Credential(Endpoint endpoint)
    {
        // Mostly valid credentials, so that most requests get past authentication into validation and lookups.
        var choice = random.Next(10);
        if (endpoint.Writes && choice is 4 or 5)
        {
            // Operators may act on any agent and on the pool; a hostile write gets a plain user ("fuzzer" owns
            // nothing) instead, which must be refused with 400, 403 or 404.
            choice = 6;
        }

        return choice switch
        {
            0 => "",
            1 => "Bearer " + TestTokens.Forged("fuzzer"),
            2 => random.Next(2) == 0 ? "Bearer " + TestTokens.Expired("fuzzer") : "Bearer not.a.jwt",
            3 => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:admin")),
            4 or 5 => "Bearer " + TestTokens.Operator("fuzz-ops"),
            _ => "Bearer " + TestTokens.User("fuzzer"),
        };
    }
}
