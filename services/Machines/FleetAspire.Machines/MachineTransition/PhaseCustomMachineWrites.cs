using System.Security.Claims;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Machines.Application;

namespace FleetAspire.Machines.MachineTransition;

/// <summary>
/// <see cref="ICustomMachineWrites"/> while the migration runs: every call goes to the side its unit of work was
/// planned for (<see cref="WritePlanner"/>: the legacy table while it is written, else Machine).
/// </summary>
public sealed class PhaseCustomMachineWrites(WritePlanner planner, IStorageSides<ICustomMachineWrites> sides) : ICustomMachineWrites
{
    private Task<ICustomMachineWrites> Writing() => planner.SideAsync(sides, writes: true);

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> RegisterAsync(string userId, RegisterCustomMachine request,
        CancellationToken cancellationToken) =>
        await (await Writing()).RegisterAsync(userId, request, cancellationToken);

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> UpdateAsync(ClaimsPrincipal caller, string id, UpdateCustomMachine update,
        CancellationToken cancellationToken) =>
        await (await Writing()).UpdateAsync(caller, id, update, cancellationToken);

    public async Task<MachineOutcome> DeleteAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken) =>
        await (await Writing()).DeleteAsync(caller, id, cancellationToken);

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> AssignAsync(ClaimsPrincipal caller, string id, string agentId,
        CancellationToken cancellationToken) =>
        await (await Writing()).AssignAsync(caller, id, agentId, cancellationToken);

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> ReleaseAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken) =>
        await (await Writing()).ReleaseAsync(caller, id, cancellationToken);
}
