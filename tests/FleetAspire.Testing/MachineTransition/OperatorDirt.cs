using FleetAspire.Data.MachineTransition.Backfill;

namespace FleetAspire.Testing;

/// <summary>
/// Dirt an operator finds in a real legacy fleet, planted with plain SQL beside <c>LegacyFleet</c>'s: a few rows of
/// every class the backfill knows (<see cref="DirtyClasses"/>), owned by the walk's client users so that clients claim,
/// release and snapshot dirty agents too — and, as a control, custom machines that share a host on different ports,
/// which are not dirt.
/// </summary>
public static class OperatorDirt
{
    public const int PerClass = 4;

    /// <param name="userOf">
    /// The user owning the n-th dirty agent (a walk's clients act on them, and an ordinary release may clean one up).
    /// </param>
    public static string Sql(Func<int, string> userOf)
    {
        string User(int n) => userOf(n);
        var rows = new List<string>();
        for (var n = 1; n <= PerClass; n++)
        {
            var u = User(n);
            rows.Add($"""
                -- agents: stray fields, an unknown type, invalid and missing addresses, no key, custom pointers that go nowhere
                INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type) VALUES
                  ('agd_stray_{n}', 'dirt', '{u}', 'idle', now(), now(), NULL, '10.250.0.{n}', NULL, 'hetzner'),
                  ('agd_type_{n}', 'dirt', '{u}', 'active', now(), now(), '{31000000 + n}', '10.250.1.{n}', 'key-d-type-{n}', 'HETZNER'),
                  ('agd_ip_{n}', 'dirt', '{u}', 'active', now(), now(), '{32000000 + n}', '10.250.2.{255 + n}', 'key-d-ip-{n}', 'hetzner'),
                  ('agd_noip_{n}', 'dirt', '{u}', 'active', now(), now(), '{33000000 + n}', NULL, 'key-d-noip-{n}', 'hetzner'),
                  ('agd_nokey_{n}', 'dirt', '{u}', 'active', now(), now(), '{34000000 + n}', '10.250.4.{n}', NULL, 'hetzner'),
                  ('agd_emptykey_{n}', 'dirt', '{u}', 'active', now(), now(), '{35000000 + n}', '10.250.5.{n}', '', 'hetzner'),
                  ('agd_dangling_{n}', 'dirt', '{u}', 'active', now(), now(), 'cmd_missing_{n}', '172.31.0.{n}', 'key-d-dangling-{n}', 'custom'),
                  ('agd_notback_{n}', 'dirt', '{u}', 'active', now(), now(), 'cmd_notback_{n}', '172.31.1.{n}', 'key-d-notback-{n}', 'custom'),
                  ('agd_dupip_a_{n}', 'dirt', '{u}', 'active', now(), now(), '{36000000 + n}', '10.250.6.{n}', 'key-d-dupa-{n}', 'hetzner'),
                  ('agd_dupip_b_{n}', 'dirt', '{u}', 'active', now(), now(), '{37000000 + n}', '10.250.6.{n}', 'key-d-dupb-{n}', 'hetzner'),
                  ('agd_held_{n}', 'dirt', '{u}', 'active', now(), now(), '{38000000 + n}', '10.250.8.{n}', 'key-d-held-{n}', 'hetzner'),
                  ('agd_differ_{n}', 'dirt', '{u}', 'active', now(), now(), 'cmd_differ_{n}', '172.31.2.{n}', 'key-d-differ-wrong-{n}', 'custom'),
                  ('agd_samehost_{n}', 'samehost', '{u}', 'active', now(), now(), 'cmd_samehost_{n}', '172.30.0.1', 'key-d-samehost-{n}', 'custom');
                INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, current_agent_id, created_at, updated_at) VALUES
                  ('cmd_notback_{n}', '172.31.1.{n}', 2200, 'key-d-notback-{n}', '{u}', NULL, now(), now()),
                  ('cmd_differ_{n}', '172.31.2.{n}', 2200, 'key-d-differ-{n}', '{u}', 'agd_differ_{n}', now(), now()),
                  ('cmd_badip_{n}', '300.1.1.{n}', 2200, 'key-d-badip-{n}', '{u}', NULL, now(), now()),
                  ('cmd_badport_{n}', '172.31.3.{n}', {(n % 2 == 0 ? 0 : 70000)}, 'key-d-badport-{n}', '{u}', NULL, now(), now()),
                  ('cmd_nokey_{n}', '172.31.4.{n}', 2200, '', '{u}', NULL, now(), now()),
                  -- Not dirt: one host, different ports, each assigned consistently.
                  ('cmd_samehost_{n}', '172.30.0.1', {3000 + n}, 'key-d-samehost-{n}', '{u}', 'agd_samehost_{n}', now(), now());
                INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at) VALUES
                  -- (A pool reconciler retires the newest first: these old rows stay while it shrinks a big pool.)
                  ('pmd_pending_{n}', NULL, 'pool-pending-{n}', NULL, 'launching', 'key-p-pending-{n}', now(), now()),
                  ('pmd_noip_{n}', '{39000000 + n}', 'pool-noip-{n}', NULL, 'ready', 'key-p-noip-{n}', now() - interval '30 days', now()),
                  ('pmd_nokey_{n}', '{39100000 + n}', 'pool-nokey-{n}', '11.250.0.{n}', 'ready', '', now() - interval '30 days', now()),
                  ('pmd_held_{n}', '{38000000 + n}', 'pool-held-{n}', '10.250.8.{n}', 'ready', 'key-p-held-{n}', now() - interval '30 days', now());
                -- children of machines that exist in no model, and of dirty machines left out of Machine
                INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final) VALUES
                  ('snapd_nokey_{n}', '{34000000 + n}', 'available', now(), '{u}', false);
                INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES
                  ('agd_nokey_{n}', '{34000000 + n}', 'healthy', now() - interval '1 minute'),
                  ('agd_gone_{n}', 'gone-hc-{n}', 'missed', now() - interval '3 days');
                """);
        }

        return string.Join("\n", rows) + "\nANALYZE;";
    }

    /// <summary>
    /// Every (class, table) the walk's database must report: this dirt and <c>LegacyFleet</c>'s together (22 classes),
    /// and nothing for the custom machines that only share a host.
    /// </summary>
    public static readonly (string Class, string Entity)[] Expected =
    [
        (DirtyClasses.StrayMachineFields, "agents"),
        (DirtyClasses.MissingType, "agents"),
        (DirtyClasses.UnknownType, "agents"),
        (DirtyClasses.DuplicateProviderId, "agents"),
        (DirtyClasses.InvalidIpv4, "agents"),
        (DirtyClasses.MissingSharedKey, "agents"),
        (DirtyClasses.DanglingCustomMachine, "agents"),
        (DirtyClasses.CustomNotAssignedBack, "agents"),
        (DirtyClasses.DuplicateIpv4, "agents"),
        (DirtyClasses.PendingProvision, "parked_machines"),
        (DirtyClasses.InvalidIpv4, "parked_machines"),
        (DirtyClasses.MissingSharedKey, "parked_machines"),
        (DirtyClasses.ParkedAndHeld, "parked_machines"),
        (DirtyClasses.InvalidIpv4, "custom_machines"),
        (DirtyClasses.InvalidPort, "custom_machines"),
        (DirtyClasses.MissingSharedKey, "custom_machines"),
        (DirtyClasses.DanglingCurrentAgent, "custom_machines"),
        (DirtyClasses.AgentFieldsDiffer, "custom_machines"),
        (DirtyClasses.OrphanSnapshot, "machine_snapshots"),
        (DirtyClasses.ChildOfDirtyMachine, "machine_snapshots"),
        (DirtyClasses.OrphanHealthCheck, "machine_health_checks"),
        (DirtyClasses.ChildOfDirtyMachine, "machine_health_checks"),
    ];
}
