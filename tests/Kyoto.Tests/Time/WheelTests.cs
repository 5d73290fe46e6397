using Kyoto.Timing;

namespace Kyoto.Tests.Time;

/// <summary>The timing wheel on its own: every timer fires at its slot time, never before, none is lost.</summary>
public class WheelTests
{
    private sealed class Node(int id) : TimerNode
    {
        public int Id { get; } = id;

        public int Fired;

        internal override void Fire() => Fired++;
    }

    [Fact]
    public void Advance_RandomTimersAcrossLevels_EachExpiresExactlyOnceAtItsTime()
    {
        var rng = new Random(1234);
        var wheel = new Wheel();
        var nodes = new List<Node>();
        var expired = new List<TimerNode>();
        ulong now = 0;

        // Deadlines spread over every level: up to 64^5 ms ahead.
        for (int i = 0; i < 20_000; i++)
        {
            var node = new Node(i);
            ulong span = (i % 5) switch { 0 => 64UL, 1 => 4096UL, 2 => 262_144UL, 3 => 16_777_216UL, _ => 1_073_741_824UL };
            ulong when = now + 1 + (ulong)(rng.NextDouble() * span);
            Assert.True(wheel.TryInsert(node, when));
            nodes.Add(node);
        }

        var expectedOrder = nodes.OrderBy(n => n.When).ToList();
        int checkedUpTo = 0;
        while (wheel.Count > 0)
        {
            ulong? next = wheel.NextExpiration();
            Assert.NotNull(next);
            Assert.True(next >= now, "the next expiration is never in the past");

            // Jump straight to the next expiration, or a random distance short of it.
            ulong target = rng.Next(3) == 0 && next > now + 1 ? now + 1 + (ulong)rng.NextInt64((long)(next.Value - now)) : next.Value;
            expired.Clear();
            wheel.Advance(target, expired);
            foreach (Node n in expired.Cast<Node>())
            {
                Assert.True(n.When <= target, $"timer {n.Id} due at {n.When} expired early at {target}");
                Assert.True(n.When > now, $"timer {n.Id} due at {n.When} expired late: it was due by {now}");
            }

            checkedUpTo += expired.Count;
            now = target;
        }

        Assert.Equal(nodes.Count, checkedUpTo);
        Assert.Equal(0, wheel.Count);
        Assert.All(expectedOrder, n => Assert.Equal(-1, n.Level));
    }

    [Fact]
    public void Advance_TopLevelTimerAfterANextTurnOneInTheCurrentSlot_ExpiresOnTime()
    {
        // The top level's current slot holds a timer of its next turn; a due top-level slot after it used to be
        // hidden behind a whole turn (795 days) and skipped.
        var wheel = new Wheel();
        var expired = new List<TimerNode>();
        wheel.Advance(88_880_803_448, expired);
        var due = new Node(1);
        var nextTurn = new Node(2);
        Assert.True(wheel.TryInsert(due, 105_398_509_163));
        Assert.True(wheel.TryInsert(nextTurn, 157_560_898_978));
        Assert.Equal(105_398_509_163UL & ~((1UL << 30) - 1), wheel.NextExpiration()!.Value); // its top slot comes first
        wheel.Advance(113_244_982_128, expired);
        Assert.Equal([due], expired);
    }

    [Fact]
    public void Advance_RandomFarTimersFromAnyStart_EachExpiresOnTime()
    {
        // Starts anywhere (not on a turn boundary) and deadlines up to the wheel's whole range, so the top level
        // wraps: every timer expires once, never before its deadline and never after the advance that passed it.
        var rng = new Random(4321);
        for (int round = 0; round < 200; round++)
        {
            var wheel = new Wheel();
            var expired = new List<TimerNode>();
            ulong now = (ulong)rng.NextInt64(1L << 40);
            wheel.Advance(now, expired);
            var pending = new HashSet<Node>();
            for (int step = 0; step < 60; step++)
            {
                for (int k = rng.Next(4); k > 0; k--)
                {
                    ulong span = rng.Next(3) switch { 0 => 1UL << 12, 1 => 1UL << 30, _ => Wheel.MaxDuration - 1 };
                    var node = new Node(step * 10 + k);
                    if (wheel.TryInsert(node, now + 1 + (ulong)rng.NextInt64((long)span)))
                    {
                        pending.Add(node);
                    }
                }

                ulong target = now + 1 + (ulong)rng.NextInt64(rng.Next(2) == 0 ? 1L << 31 : 1L << 35);
                expired.Clear();
                wheel.Advance(target, expired);
                foreach (Node n in expired.Cast<Node>())
                {
                    Assert.True(n.When <= target, $"round {round}: due at {n.When}, expired early at {target}");
                    Assert.True(pending.Remove(n), $"round {round}: timer expired twice");
                }

                foreach (Node n in pending)
                {
                    Assert.True(n.When > target, $"round {round}: due at {n.When}, still pending after advancing to {target}");
                }

                now = target;
            }
        }
    }

    [Fact]
    public void ClockMilliseconds_AfterMonthsOfUptime_DoNotOverflow()
    {
        // The wheel's milliseconds from a stopwatch delta: multiplying first overflowed a long after 106.75 days at
        // Linux's 1 GHz frequency, and every timer then landed years away.
        var clock = new Kyoto.Timing.Clock(startPaused: false);
        foreach (int days in new[] { 1, 107, 200, 3650 })
        {
            long ticks = (long)days * 86_400 * System.Diagnostics.Stopwatch.Frequency;
            var instant = new Kyoto.Time.Instant(clock.Origin + ticks);
            Assert.Equal((ulong)days * 86_400_000, clock.ToMsFloor(instant));
            Assert.Equal((ulong)days * 86_400_000, clock.ToMsCeil(instant));
        }
    }

    [Fact]
    public void Remove_ArmedTimer_NeverExpires()
    {
        var wheel = new Wheel();
        var keep = new Node(1);
        var drop = new Node(2);
        Assert.True(wheel.TryInsert(keep, 100));
        Assert.True(wheel.TryInsert(drop, 100));
        Assert.True(wheel.Remove(drop));
        Assert.False(wheel.Remove(drop));

        var expired = new List<TimerNode>();
        wheel.Advance(1_000, expired);
        Assert.Equal([keep], expired);
    }

    [Fact]
    public void TryInsert_DeadlineNotAfterElapsed_IsRefused()
    {
        var wheel = new Wheel();
        var expired = new List<TimerNode>();
        wheel.Advance(50, expired);
        Assert.False(wheel.TryInsert(new Node(1), 50));
        Assert.False(wheel.TryInsert(new Node(2), 10));
        Assert.True(wheel.TryInsert(new Node(3), 51));
    }

    [Fact]
    public void TryInsert_BeyondRange_IsClampedAndStillExpires()
    {
        var wheel = new Wheel();
        var far = new Node(1);
        Assert.True(wheel.TryInsert(far, ulong.MaxValue / 2));
        Assert.Equal(Wheel.MaxDuration, far.When);
        var expired = new List<TimerNode>();
        while (wheel.Count > 0)
        {
            wheel.Advance(wheel.NextExpiration()!.Value, expired);
        }

        Assert.Equal([far], expired);
    }
}
