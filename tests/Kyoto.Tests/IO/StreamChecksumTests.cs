namespace Kyoto.Tests.IO;

/// <summary>The test checksum itself: independent of how the bytes are split, sensitive to order and content.</summary>
public class StreamChecksumTests
{
    [Fact]
    public void Checksum_IgnoresSplits_ButSeesSwapsAndFlips()
    {
        byte[] data = TestData.Random(10_000, 60);
        ulong whole = new StreamChecksumResult(data).Checksum;
        var random = new Random(61);
        for (int round = 0; round < 20; round++)
        {
            var split = new StreamChecksum();
            int at = 0;
            while (at < data.Length)
            {
                int n = Math.Min(random.Next(1, 40), data.Length - at);
                split.Append(data.AsSpan(at, n));
                at += n;
            }

            Assert.Equal(whole, split.Value);
        }

        byte[] swapped = (byte[])data.Clone();
        (swapped[100], swapped[5000]) = (swapped[5000], swapped[100]);
        Assert.True(swapped[100] == data[100] || new StreamChecksumResult(swapped).Checksum != whole);
        byte[] flipped = (byte[])data.Clone();
        flipped[9999] ^= 1;
        Assert.NotEqual(whole, new StreamChecksumResult(flipped).Checksum);
        Assert.NotEqual(whole, new StreamChecksumResult(data[..^1]).Checksum);
    }
}
