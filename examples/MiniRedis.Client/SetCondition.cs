namespace MiniRedis.Client;

/// <summary>When SET writes its value.</summary>
public enum SetCondition
{
    /// <summary>Always (no flag).</summary>
    Always,

    /// <summary>Only if the key does not exist (<c>NX</c>).</summary>
    IfNotExists,

    /// <summary>Only if the key already exists (<c>XX</c>).</summary>
    IfExists,
}
