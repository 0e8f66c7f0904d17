using System.Security.Claims;
using FleetAspire.Data;
using FleetAspire.Data.Outbox;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;

namespace FleetAspire.Machines.Application;

public enum MachineOutcome
{
    Ok,
    NotFound,
    AgentNotFound,
    Duplicate,
    MachineInUse,
    AgentBusy,
    NotAssigned,
}

public sealed record RegisterCustomMachine(string Ipv4, int Port, string SharedKey, string? Os, string? Arch, int? CpuCount, int? MemoryGb);

public sealed record UpdateCustomMachine(string? Ipv4, int? Port, string? SharedKey, string? Os, string? Arch, int? CpuCount, int? MemoryGb);

/// <summary>
/// Write storage of custom machines. A machine belongs to the user who registered it; another user's machine is
/// invisible (404) and never assignable. Assignment changes the machine and the agent in one transaction, in the
/// service that received the request (docs/adr/0002); rows are locked agent first, machine second.
/// </summary>
public interface ICustomMachineWrites
{
    Task<(MachineOutcome Outcome, CustomMachineView? Machine)> RegisterAsync(string userId, RegisterCustomMachine request, CancellationToken cancellationToken);

    Task<(MachineOutcome Outcome, CustomMachineView? Machine)> UpdateAsync(ClaimsPrincipal caller, string id, UpdateCustomMachine update, CancellationToken cancellationToken);

    /// <summary>An assigned machine is not deleted under its agent: release it first (409).</summary>
    Task<MachineOutcome> DeleteAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken);

    /// <summary>Assigns the caller's free machine to the caller's idle agent.</summary>
    Task<(MachineOutcome Outcome, CustomMachineView? Machine)> AssignAsync(ClaimsPrincipal caller, string id, string agentId, CancellationToken cancellationToken);

    /// <summary>Detaches the caller's machine from its agent (both rows, one transaction).</summary>
    Task<(MachineOutcome Outcome, CustomMachineView? Machine)> ReleaseAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken);
}

/// <summary>
/// Custom machine writes, in the storage <see cref="IWrites{TStorage}"/> picks (while the migration runs: the one the
/// phase names, retried once if the phase moves under it). Wakes the outbox after writes that enqueue events.
/// </summary>
public sealed class CustomMachineService(IWrites<ICustomMachineWrites> writes, OutboxSignal outbox)
{
    public Task<(MachineOutcome Outcome, CustomMachineView? Machine)> RegisterAsync(string userId, RegisterCustomMachine request, CancellationToken cancellationToken) =>
        writes.RunAsync(storage => storage.RegisterAsync(userId, request, cancellationToken));

    public Task<(MachineOutcome Outcome, CustomMachineView? Machine)> UpdateAsync(ClaimsPrincipal caller, string id, UpdateCustomMachine update, CancellationToken cancellationToken) =>
        writes.RunAsync(storage => storage.UpdateAsync(caller, id, update, cancellationToken));

    public Task<MachineOutcome> DeleteAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken) =>
        writes.RunAsync(storage => storage.DeleteAsync(caller, id, cancellationToken));

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> AssignAsync(ClaimsPrincipal caller, string id, string agentId, CancellationToken cancellationToken) =>
        Notified(await writes.RunAsync(storage => storage.AssignAsync(caller, id, agentId, cancellationToken)));

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> ReleaseAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken) =>
        Notified(await writes.RunAsync(storage => storage.ReleaseAsync(caller, id, cancellationToken)));

    private (MachineOutcome, CustomMachineView?) Notified((MachineOutcome Outcome, CustomMachineView? Machine) result)
    {
        if (result.Outcome == MachineOutcome.Ok)
        {
            outbox.Notify();
        }

        return result;
    }
}
