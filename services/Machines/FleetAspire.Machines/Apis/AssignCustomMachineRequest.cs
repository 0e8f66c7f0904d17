namespace FleetAspire.Machines.Apis;

public sealed record AssignCustomMachineRequest(string? AgentId);
