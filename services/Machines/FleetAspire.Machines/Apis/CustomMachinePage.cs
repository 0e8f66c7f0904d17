namespace FleetAspire.Machines.Apis;

public sealed record CustomMachinePage(IReadOnlyList<CustomMachineResponse> Items, string? NextCursor);
