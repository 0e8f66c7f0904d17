using FleetAspire.Agents.Application;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Data.Reads;
using FleetAspire.Names;

namespace FleetAspire.Agents.MachineTransition;

/// <summary>
/// The one place in the agents service that picks where machine data is read from, by the migration phase — and
/// that offers what a read served for a shadow comparison with the other side (sampled; never on the request path).
/// </summary>
/// <remarks>Scoped: it remembers what this request's reads served, so the comparison is with exactly that.</remarks>
public sealed class AgentMachineStores(TransitionModeResolver modes, LegacyAgentMachineStore legacy, AgentMachineStore machine, ShadowCompareQueue shadow)
    : IReads<IAgentMachineStore>
{
    private readonly Dictionary<string, AgentMachine> _served = new(StringComparer.Ordinal);

    public async Task<IAgentMachineStore> CurrentAsync()
    {
        var mode = await modes.ForReadAsync();
        return new Recording(mode.ReadMachine ? machine : legacy, _served);
    }

    /// <summary>Offers the machines this request's reads served for the given agents, for comparison with the other side.</summary>
    public async Task ServedAsync(string entity, IReadOnlyCollection<string> ids)
    {
        var mode = await modes.CurrentAsync();
        var agentIds = ids.ToArray();
        var served = agentIds.Where(_served.ContainsKey).ToDictionary(id => id, id => _served[id], StringComparer.Ordinal);
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

    /// <summary>The chosen store, remembering the machines it served.</summary>
    private sealed class Recording(IAgentMachineStore store, Dictionary<string, AgentMachine> served) : IAgentMachineStore
    {
        public async Task<IReadOnlyDictionary<string, AgentMachine>> ForAgentsAsync(IReadOnlyCollection<string> agentIds, CancellationToken cancellationToken)
        {
            var result = await store.ForAgentsAsync(agentIds, cancellationToken);
            foreach (var (id, held) in result)
            {
                served[id] = held;
            }

            return result;
        }

        public Task<ConnectionDetails?> ConnectionAsync(string agentId, CancellationToken cancellationToken) => store.ConnectionAsync(agentId, cancellationToken);


        public IQueryable<Agent> WhereMachineType(IQueryable<Agent> agents, string machineType) => store.WhereMachineType(agents, machineType);
    }
}

internal static class AgentsTransition
{
    /// <summary>
    /// The agents service's part in the migration: the phase machinery, and its selector registered over the
    /// steady-state store. Called before messaging: consumers' writes pass the same fence and dual-write as requests.
    /// </summary>
    public static void AddAgentsTransition(this IHostApplicationBuilder builder)
    {
        builder.AddMachineTransition(ResourceNames.Agents);
        builder.Services.AddScoped<LegacyAgentMachineStore>();
        builder.Services.AddScoped<AgentMachineStores>();
        builder.Services.AddScoped<IReads<IAgentMachineStore>>(sp => sp.GetRequiredService<AgentMachineStores>());
    }
}

/// <summary>An agent's machine on both sides, compared with the verifier's comparator.</summary>
public static class AgentShadow
{
    public static ShadowResult Compare(IReadOnlyList<string> agentIds, IReadOnlyDictionary<string, AgentMachine> legacy,
        IReadOnlyDictionary<string, AgentMachine> machine)
    {
        var findings = new List<ShadowFinding>();
        var clean = new List<(string, string)>();
        foreach (var id in agentIds)
        {
            var (l, m) = (legacy.GetValueOrDefault(id), machine.GetValueOrDefault(id));
            if (l is null && m is null)
            {
                clean.Add(("agents", id));
            }
            else if (l is null || m is null || l.Id != m.Id)
            {
                findings.Add(new ShadowFinding("agents", id, new FieldDivergence("machine_ref", DivergenceKinds.AssignmentMismatch, l?.Id, m?.Id)));
            }
            else
            {
                // The agents API never reads keys: compared by the connection path's own checks, not here.
                var differences = MachineComparator.Compare(Side(l), Side(m), static _ => string.Empty);
                findings.AddRange(differences.Select(d => new ShadowFinding("machines", l.Id!, d)));
                clean.Add(("agents", id));
                if (differences.Count == 0)
                {
                    clean.Add(("machines", l.Id!));
                }
            }
        }

        return new ShadowResult(findings, clean);
    }

    private static MachineSide Side(AgentMachine m) => new(m.Id ?? string.Empty, m.Type ?? string.Empty, m.ProviderId, m.Ipv4, m.Port, m.Status, null, null);
}
