using FleetAspire.Data.Entities;

namespace FleetAspire.Snapshots.Apis;

public sealed record SnapshotResponse(
    string Id, string MachineId, string? AgentId, string UserId, string? ProviderImageId, string Status, long? SizeBytes, bool IsFinal, DateTimeOffset CreatedAt)
{
    public static SnapshotResponse From(MachineSnapshot s) =>
        new(s.Id, s.MachineId, s.AgentId, s.UserId, s.ProviderImageId, s.Status, s.SizeBytes, s.IsFinal, s.CreatedAt);
}
