using System.Security.Cryptography;
using System.Text;
using FleetAspire.Data.MachineTransition.Verification;
using Npgsql;

namespace FleetAspire.Transition.Tests;

/// <summary>
/// One table of test vectors drives both comparators: the C# one (shadow reads, write checks) and the SQL verifier.
/// Each must classify every vector exactly as the table says.
/// </summary>
public sealed class ComparatorVectorTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("comparator-vector-fingerprint-key-0123456789");

    public sealed record Vector(string Name, MachineSide? Legacy, MachineSide? Machine, params FieldDivergence[] Expected)
    {
        public override string ToString() => Name;
    }

    // Each custom machine has its own address: (owner, ipv4, port) is unique on the legacy side.
    private static MachineSide Custom(int n, string? ipv4 = null, int port = 2222, string status = "offline", string? owner = "bob", string key = "ck-0123456789") =>
        new($"mc_cmv{n}", "custom", null, ipv4 ?? $"192.0.2.{n}", port, status, owner, key);

    private static MachineSide Pool(int n, string? provider = null, string ipv4 = "10.3.0.1", string status = "ready", string? owner = null, string key = "pk-0123456789") =>
        new($"mh_{3000 + n}", "hetzner", provider ?? (3000 + n).ToString(System.Globalization.CultureInfo.InvariantCulture), ipv4, 8911, status, owner, key);

    private static FieldDivergence Field(string field, string? legacy, string? machine) => new(field, DivergenceKinds.FieldMismatch, legacy, machine);

    public static readonly Vector[] Vectors =
    [
        new("custom, identical", Custom(1), Custom(1)),
        new("custom, ipv4 with leading zeros and spaces", Custom(2), Custom(2, ipv4: " 192.000.2.002 ")),
        new("custom, ipv4 differs", Custom(3), Custom(3, ipv4: "192.0.2.103"), Field("ipv4", "192.0.2.3", "192.0.2.103")),
        new("custom, port differs", Custom(4), Custom(4, port: 2200), Field("port", "2222", "2200")),
        new("custom, owner differs", Custom(5), Custom(5, owner: "eve"), Field("owner", "bob", "eve")),
        new("custom, key differs", Custom(6), Custom(6, key: "other-key-0123456789"),
            Field("shared_key", MachineComparator.SecretDiffers, MachineComparator.SecretDiffers)),
        new("custom, status differs", Custom(7), Custom(7, status: "in_use"), Field("status", "offline", "in_use")),
        new("custom, port and key differ", Custom(8), Custom(8, port: 22, key: "third-key-0123456789"),
            Field("port", "2222", "22"), Field("shared_key", MachineComparator.SecretDiffers, MachineComparator.SecretDiffers)),
        new("custom, missing in Machine", Custom(9), null, new FieldDivergence("*", DivergenceKinds.MissingInMachine, null, null)),
        new("custom, missing in legacy", null, Custom(10), new FieldDivergence("*", DivergenceKinds.MissingInLegacy, null, "custom")),
        new("pool, provider id padded", Pool(11), Pool(11, provider: " 3011 ")),
        new("pool, status differs", Pool(12), Pool(12, status: "launching"), Field("status", "ready", "launching")),
        new("pool, empty owner is no owner", Pool(13), Pool(13, owner: "")),
        new("pool, ipv4 not an address", Pool(14), Pool(14, ipv4: "not-an-ip"), Field("ipv4", "10.3.0.1", "not-an-ip")),
        new("pool, missing in Machine", Pool(15), null, new FieldDivergence("*", DivergenceKinds.MissingInMachine, null, null)),
    ];

    public static TheoryData<Vector> All => new(Vectors);

    private static string Fingerprint(string secret) => Convert.ToHexString(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(secret)));

    /// <summary>Missing rows are compared by field and kind: their values name the source row, which the sides spell differently.</summary>
    private static IEnumerable<string> Shape(IEnumerable<FieldDivergence> divergences) =>
        divergences.Select(d => d.Field == "*" ? $"{d.Field}|{d.Kind}" : $"{d.Field}|{d.Kind}|{d.LegacyValue}|{d.MachineValue}").Order();

    [Theory]
    [MemberData(nameof(All))]
    public void The_CSharp_comparator_classifies_each_vector(Vector vector) =>
        Assert.Equal(Shape(vector.Expected), Shape(MachineComparator.Compare(vector.Legacy, vector.Machine, Fingerprint)));

    [Fact]
    public async Task The_SQL_verifier_classifies_every_vector_the_same_way()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("vectors");
        var seed = new StringBuilder();
        foreach (var vector in Vectors)
        {
            if (vector.Legacy is { Type: "custom" } custom)
            {
                seed.Append($"INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at) VALUES ('{custom.Id[3..]}', '{custom.Ipv4}', {custom.Port}, '{custom.SharedKey}', '{custom.Owner}', now(), now());\n");
            }
            else if (vector.Legacy is { } pool)
            {
                seed.Append($"INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at) VALUES ('pm_{pool.ProviderId}', '{pool.ProviderId}', 'v', '{pool.Ipv4}', '{pool.Status}', '{pool.SharedKey}', now(), now());\n");
            }

            if (vector.Machine is { } m)
            {
                var provider = m.ProviderId is null ? "NULL" : $"'{m.ProviderId}'";
                var owner = m.Owner is null ? "NULL" : $"'{m.Owner}'";
                seed.Append($"INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, user_id, legacy_id) VALUES ('{m.Id}', '{m.Type}', {provider}, '{m.Ipv4}', '{m.SharedKey}', {m.Port}, '{m.Status}', {owner}, '{m.Id[3..]}');\n");
            }
        }

        await Sql.ExecuteAsync(database, seed.ToString());
        await using var source = NpgsqlDataSource.Create(database);
        await new MachineVerifier(source, Key).VerifyAsync(CancellationToken.None);

        var found = new List<(string Id, FieldDivergence Divergence)>();
        await using (var connection = await source.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand(
            "SELECT entity_id, field, kind, legacy_value, machine_value FROM migration_divergences WHERE entity = 'machines' AND resolved_at IS NULL", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                found.Add((reader.GetString(0), new FieldDivergence(reader.GetString(1), reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4))));
            }
        }

        Assert.All(Vectors, vector =>
        {
            var id = (vector.Legacy ?? vector.Machine)!.Id;
            Assert.True(Shape(vector.Expected).SequenceEqual(Shape(found.Where(f => f.Id == id).Select(f => f.Divergence))),
                $"{vector.Name}: expected [{string.Join(", ", Shape(vector.Expected))}], SQL found [{string.Join(", ", Shape(found.Where(f => f.Id == id).Select(f => f.Divergence)))}]");
        });
        Assert.All(found, f => Assert.Contains(Vectors, v => (v.Legacy ?? v.Machine)!.Id == f.Id));
    }
}
