namespace FleetAspire.Testing;

/// <summary>The agents' relation to their machines, as one comparable value: how many hold one, and a digest of which.</summary>
public static class AgentRelation
{
    /// <summary>SQL for <c>holding=N:md5</c> over <paramref name="column"/> (the relation's name before or after the contract).</summary>
    public static string FingerprintSql(string column, string where = "true") =>
        $"SELECT 'holding=' || count({column}) || ':' || md5(string_agg(id || '=' || coalesce({column}, ''), ',' ORDER BY id)) FROM agents WHERE {where}";
}
