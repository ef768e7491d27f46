"""Words the demo builds names from (fixed lists, so a seed gives the same data on every machine)."""

from __future__ import annotations

FIRST_NAMES = [
    "Anna", "Bram", "Chloé", "Daan", "Eva", "Femke", "Gijs", "Hanna", "Ilse", "Jonas", "Katrin", "Lars",
    "Maren", "Niels", "Olga", "Pieter", "Quinten", "Rosa", "Sven", "Tess", "Ulrike", "Vera", "Willem",
    "Xander", "Yara", "Zoë", "Matthias", "Sofie", "Henrik", "Ingrid", "Oliver", "Amelia", "Jack", "Grace",
    "Liam", "Emma", "Noah", "Mia", "Lucas", "Elena", "Felix", "Lena", "Emil", "Astrid", "Oskar", "Freya",
    "Thomas", "Claire", "Ruben", "Nora", "Julia", "Maximilian", "Sara", "Finn", "Laura", "Milan", "Isabel",
]  # fmt: skip
LAST_NAMES = [
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Peeters", "Maes",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Wagner", "Keller",
    "Hansen", "Johansson", "Nielsen", "Larsen", "Andersson", "Virtanen", "Berg", "Lindqvist", "Dahl",
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Murphy", "Kelly", "Walsh",
    "Miller", "Davis", "Garcia", "Martinez", "Anderson", "Clark", "Lewis", "Young", "Moore", "Hall",
]  # fmt: skip
COMPANY_FIRST = [
    "North", "Blue", "Delta", "Polder", "Alpen", "Fjord", "Harbour", "Summit", "Bright", "Iron", "Silver",
    "Green", "Orbit", "Prime", "Nova", "Atlas", "Vector", "Lumen", "Cedar", "Granite", "Meridian", "Pioneer",
    "Rhine", "Tulip", "Aurora", "Beacon", "Crest", "Dune", "Ember", "Falcon", "Glacier", "Horizon",
]  # fmt: skip
COMPANY_SECOND = [
    "Logistics", "Foods", "Systems", "Energy", "Health", "Robotics", "Analytics", "Retail", "Finance",
    "Pharma", "Textiles", "Mobility", "Construction", "Media", "Software", "Insurance", "Maritime",
    "Agritech", "Telecom", "Packaging", "Engineering", "Labs", "Hospitality", "Security",
]  # fmt: skip
COMPANY_SUFFIX = {
    "NL": ["B.V.", "Groep", "N.V."], "BE": ["NV", "BV"], "DE": ["GmbH", "AG", "KG"], "AT": ["GmbH"],
    "CH": ["AG"], "SE": ["AB"], "DK": ["A/S"], "NO": ["AS"], "FI": ["Oy"], "GB": ["Ltd", "plc"],
    "IE": ["Ltd"], "US": ["Inc.", "LLC", "Corp."], "CA": ["Inc."],
}  # fmt: skip
INDUSTRIES = [
    "Manufacturing", "Retail", "Logistics", "Healthcare", "Financial services", "Software", "Energy",
    "Public sector", "Education", "Hospitality", "Construction", "Telecommunications",
]  # fmt: skip
JOB_TITLES = [
    "CEO", "CFO", "COO", "CIO", "Head of Operations", "IT Manager", "Procurement Manager", "Sales Director",
    "Operations Manager", "Finance Director", "Project Lead", "Head of Digital",
]  # fmt: skip
PRODUCTS = {
    "Sales": [
        "Platform licence", "Analytics add-on", "Onboarding package", "Enterprise plan", "Team plan",
        "Support upgrade", "Integration project", "Data migration", "Training programme", "Renewal",
    ],
    "Partnerships": ["Reseller agreement", "Referral partnership", "Technology alliance", "Co-marketing plan"],
}  # fmt: skip
CALL_SUBJECTS = ["Discovery call", "Follow-up call", "Pricing call", "Check-in call", "Reference call"]
MEETING_SUBJECTS = ["Demo", "On-site workshop", "Proposal walkthrough", "Stakeholder meeting", "Kick-off"]
EMAIL_SUBJECTS = [
    "Sent the proposal",
    "Shared case studies",
    "Answered security questions",
    "Sent the contract",
]
NOTE_SUBJECTS = [
    "Budget confirmed for next quarter", "Competitor also in the running", "Decision maker on holiday",
    "Champion moved to another role", "Legal review started", "Asked for a discount",
]  # fmt: skip
TASK_SUBJECTS = [
    "Send revised quote", "Book the demo", "Chase signature", "Prepare business case", "Call back the CFO",
    "Send the security questionnaire", "Schedule the workshop",
]  # fmt: skip
NEXT_STEPS = [
    "Send proposal", "Book a demo", "Meet the CFO", "Agree on pilot scope", "Chase the signature",
    "Answer legal's questions", "Present to the board",
]  # fmt: skip
LEAD_TOPICS = [
    "asked for pricing", "downloaded the whitepaper", "met us at the booth", "was referred by a customer",
    "replied to the campaign", "answered a cold e-mail", "requested a demo",
]  # fmt: skip
DISQUALIFY_REASONS = [
    "No budget this year", "Too small for us", "Student or job seeker", "Already a customer",
    "Competitor fishing for prices", "No response after five attempts", "Outside our regions",
]  # fmt: skip
