using FleetAspire.Machines.Application;
using FleetAspire.ServiceDefaults.Secrets;

namespace FleetAspire.Machines.Apis;

/// <summary>
/// A custom machine as its owner sees it. The sharedKey itself is never returned; its keyed fingerprint lets the
/// owner check which key is registered.
/// </summary>
public sealed record CustomMachineResponse(
    string Id, string Ipv4, int Port, string UserId, string? CurrentAgentId,
    string? Os, string? Arch, int? CpuCount, int? MemoryGb, string SharedKeyFingerprint, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static CustomMachineResponse From(CustomMachineView v, SecretFingerprint fingerprint) =>
        new(v.Id, v.Ipv4, v.Port, v.UserId, v.CurrentAgentId, v.Os, v.Arch, v.CpuCount, v.MemoryGb, fingerprint.Of(v.SharedKey), v.CreatedAt, v.UpdatedAt);
}
