namespace MiniRedis.Server;

/// <summary>Redis's glob matching (its <c>stringmatchlen</c>): <c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[^a-z]</c>, <c>\x</c>.</summary>
public static class Glob
{
    /// <summary>True if <paramref name="text"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text)
    {
        bool skipLongerMatches = false;
        return Match(pattern, text, 0, ref skipLongerMatches);
    }

    private static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, int nesting, ref bool skipLongerMatches)
    {
        // Like Redis, refuse pathological patterns instead of recursing without bound.
        if (nesting > 1000)
        {
            return false;
        }
        int p = 0;
        int s = 0;
        while (p < pattern.Length && s < text.Length)
        {
            switch (pattern[p])
            {
                case (byte)'*':
                    while (p + 1 < pattern.Length && pattern[p + 1] == (byte)'*')
                    {
                        p++;
                    }
                    if (p + 1 == pattern.Length)
                    {
                        return true;
                    }
                    while (s < text.Length)
                    {
                        if (Match(pattern[(p + 1)..], text[s..], nesting + 1, ref skipLongerMatches))
                        {
                            return true;
                        }
                        if (skipLongerMatches)
                        {
                            return false;
                        }
                        s++;
                    }
                    // No match for the rest of the pattern anywhere: a longer '*' run cannot match either.
                    skipLongerMatches = true;
                    return false;
                case (byte)'?':
                    s++;
                    break;
                case (byte)'[':
                {
                    p++;
                    bool not = p < pattern.Length && pattern[p] == (byte)'^';
                    if (not)
                    {
                        p++;
                    }
                    bool match = false;
                    while (true)
                    {
                        if (p >= pattern.Length)
                        {
                            p--;
                            break;
                        }
                        if (pattern[p] == (byte)'\\' && pattern.Length - p >= 2)
                        {
                            p++;
                            if (pattern[p] == text[s])
                            {
                                match = true;
                            }
                        }
                        else if (pattern[p] == (byte)']')
                        {
                            break;
                        }
                        else if (pattern.Length - p >= 3 && pattern[p + 1] == (byte)'-')
                        {
                            int start = pattern[p];
                            int end = pattern[p + 2];
                            if (start > end)
                            {
                                (start, end) = (end, start);
                            }
                            p += 2;
                            if (text[s] >= start && text[s] <= end)
                            {
                                match = true;
                            }
                        }
                        else if (pattern[p] == text[s])
                        {
                            match = true;
                        }
                        p++;
                    }
                    if (not)
                    {
                        match = !match;
                    }
                    if (!match)
                    {
                        return false;
                    }
                    s++;
                    break;
                }
                case (byte)'\\':
                    if (pattern.Length - p >= 2)
                    {
                        p++;
                    }
                    goto default;
                default:
                    if (pattern[p] != text[s])
                    {
                        return false;
                    }
                    s++;
                    break;
            }
            p++;
            if (s == text.Length)
            {
                while (p < pattern.Length && pattern[p] == (byte)'*')
                {
                    p++;
                }
                break;
            }
        }
        return p == pattern.Length && s == text.Length;
    }
}
