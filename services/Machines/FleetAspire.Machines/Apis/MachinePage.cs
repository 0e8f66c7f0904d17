namespace FleetAspire.Machines.Apis;

public sealed record MachinePage(IReadOnlyList<MachineResponse> Items, string? NextCursor);
