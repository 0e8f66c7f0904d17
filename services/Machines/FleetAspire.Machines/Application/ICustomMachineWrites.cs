using System.Security.Claims;

namespace FleetAspire.Machines.Application;

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
