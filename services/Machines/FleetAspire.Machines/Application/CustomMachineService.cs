using System.Security.Claims;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;

namespace FleetAspire.Machines.Application;

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
