using System.Text.Json;
using Xunit;

namespace FleetAspire.Testing;

/// <summary>
/// The agents API's JSON as old clients read it, pinned in every phase and after the contract: the flat machine fields
/// keep their names and meaning (provider id or custom machine id, its address, its type), computed from the relation.
/// </summary>
public static class AgentJsonContract
{
    public static readonly string[] AgentFields =
        ["id", "name", "userId", "status", "machineId", "machineIpv4", "machineType", "machine", "createdAt", "updatedAt"];

    public static readonly string[] MachineFields = ["id", "type", "providerId", "ipv4", "port", "status"];

    /// <summary>An agent holding a pool machine, and one holding none.</summary>
    public static void AssertPinned(JsonElement pool, JsonElement idle)
    {
        Assert.Equal(AgentFields, pool.EnumerateObject().Select(p => p.Name));
        Assert.Equal(MachineFields, pool.GetProperty("machine").EnumerateObject().Select(p => p.Name));
        Assert.Equal(pool.GetProperty("machine").GetProperty("providerId").GetString(), pool.GetProperty("machineId").GetString());
        Assert.Equal(pool.GetProperty("machine").GetProperty("ipv4").GetString(), pool.GetProperty("machineIpv4").GetString());
        Assert.Equal("hetzner", pool.GetProperty("machineType").GetString());
        Assert.StartsWith("mh_", pool.GetProperty("machine").GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(AgentFields, idle.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, idle.GetProperty("machine").ValueKind);
        Assert.Equal(JsonValueKind.Null, idle.GetProperty("machineId").ValueKind);
        Assert.DoesNotContain("sharedKey", pool.GetRawText(), StringComparison.OrdinalIgnoreCase);
    }
}
