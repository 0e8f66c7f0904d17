using System.Security.Claims;
using FleetAspire.Data;
using FleetAspire.Messaging;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Machines.Application;

/// <summary>
/// Custom machine writes, each one unit of work of the context's execution strategy. Wakes the outbox after writes
/// that enqueue events.
/// </summary>
public sealed class CustomMachineService(FleetDbContext db, ICustomMachineWrites writes, OutboxSignal outbox)
{
    public Task<(MachineOutcome Outcome, CustomMachineView? Machine)> RegisterAsync(string userId, RegisterCustomMachine request, CancellationToken cancellationToken) =>
        InUnitAsync(() => writes.RegisterAsync(userId, request, cancellationToken));

    public Task<(MachineOutcome Outcome, CustomMachineView? Machine)> UpdateAsync(ClaimsPrincipal caller, string id, UpdateCustomMachine update, CancellationToken cancellationToken) =>
        InUnitAsync(() => writes.UpdateAsync(caller, id, update, cancellationToken));

    public Task<MachineOutcome> DeleteAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken) =>
        InUnitAsync(() => writes.DeleteAsync(caller, id, cancellationToken));

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> AssignAsync(ClaimsPrincipal caller, string id, string agentId, CancellationToken cancellationToken) =>
        Notified(await InUnitAsync(() => writes.AssignAsync(caller, id, agentId, cancellationToken)));

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> ReleaseAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken) =>
        Notified(await InUnitAsync(() => writes.ReleaseAsync(caller, id, cancellationToken)));

    private Task<T> InUnitAsync<T>(Func<Task<T>> write) => db.Database.CreateExecutionStrategy().ExecuteAsync(write);

    private (MachineOutcome, CustomMachineView?) Notified((MachineOutcome Outcome, CustomMachineView? Machine) result)
    {
        if (result.Outcome == MachineOutcome.Ok)
        {
            outbox.Notify();
        }

        return result;
    }
}
