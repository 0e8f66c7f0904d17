using FleetAspire.Agents.Application;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Shadow;

namespace FleetAspire.Agents.MachineTransition;

/// <summary>
/// <see cref="IAgentMachineStore"/> while the migration runs: each read served by the side the phase names (the
/// agent's legacy fields, or its Machine relation), and the machines it served offered for a shadow comparison with
/// the other side (sampled; never on the request path).
/// </summary>
public sealed class PhaseAgentMachineStore(TransitionModeResolver modes, LegacyAgentMachineStore legacy, AgentMachineStore machine, ShadowCompareQueue shadow)
    : IAgentMachineStore
{
    public async Task<IReadOnlyDictionary<string, AgentMachine>> ForAgentsAsync(IReadOnlyCollection<string> agentIds, CancellationToken cancellationToken)
    {
        var (mode, side) = await modes.ReadSideAsync<IAgentMachineStore>(machine, legacy);
        var served = await side.ForAgentsAsync(agentIds, cancellationToken);
        if (agentIds.Count > 0)
        {
            OfferComparison(mode, agentIds.ToArray(), served);
        }

        return served;
    }

    public async Task<ConnectionDetails?> ConnectionAsync(string agentId, CancellationToken cancellationToken) =>
        await (await modes.ReadSideAsync<IAgentMachineStore>(machine, legacy)).Side.ConnectionAsync(agentId, cancellationToken);

    public async ValueTask<IQueryable<Agent>> WhereMachineTypeAsync(IQueryable<Agent> agents, string machineType) =>
        await (await modes.ReadSideAsync<IAgentMachineStore>(machine, legacy)).Side.WhereMachineTypeAsync(agents, machineType);

    /// <summary>The machines served for these agents against the other side's, read later by the shadow worker.</summary>
    private void OfferComparison(TransitionMode mode, string[] agentIds, IReadOnlyDictionary<string, AgentMachine> served) =>
        shadow.Offer(mode, async (services, cancellationToken) =>
        {
            // Agents the backfill quarantined are known divergences: left out here exactly as the verifier leaves them out.
            var quarantined = await MachineShadow.QuarantinedAgentsAsync(services, agentIds, cancellationToken);
            var compared = agentIds.Where(id => !quarantined.Contains(id)).ToArray();
            IAgentMachineStore other = mode.ReadMachine
                ? services.GetRequiredService<LegacyAgentMachineStore>()
                : services.GetRequiredService<AgentMachineStore>();
            var others = await other.ForAgentsAsync(compared, cancellationToken);
            return AgentShadow.Compare(compared, mode.ReadMachine ? others : served, mode.ReadMachine ? served : others);
        });
}
