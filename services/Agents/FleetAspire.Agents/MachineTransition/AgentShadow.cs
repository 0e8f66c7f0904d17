using FleetAspire.Agents.Application;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.MachineTransition.Verification;

namespace FleetAspire.Agents.MachineTransition;

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
